"""A window's listed conversations on local disk, so memory holds only what planning needs.

Listing a busy window returns hundreds of thousands of conversations. Holding them all as
parsed objects costs tens of KB each, so a window's peak memory would grow with its size. Instead
the listing appends each validated ``Conversation`` to a spill file in a private temporary folder
and keeps a ``ListedConversation`` — id, ``updated_at``, contact ids, where its record lies — for
de-duplication and batch planning. A batch's conversations are read back one at a time, while
its rows are made (``SpilledConversations``) — after its contact lookups, which is where a batch
spends its time — so a batch waiting on the API holds no conversations, and peak memory follows
the batch size, not the window.

The records are pickled by this process and read only by it (never data from elsewhere).
"""

import os
import pickle
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from .batching import ConversationBatch
from .models import Conversation


@dataclass(frozen=True, slots=True)
class ListedConversation:
    """What planning needs of a listed conversation, and where the rest of it lies."""

    id: str
    updated_at: int
    contact_ids: tuple[str, ...]
    offset: int
    size: int


class ConversationSpill:
    """An append-only file of pickled conversations in a temporary folder of its own."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="intercom-listing-")
        self.path = os.path.join(self._dir, "conversations.pickles")
        self._file = open(self.path, "w+b")  # noqa: SIM115 - closed by close()
        self._end = 0
        self._flushed = threading.Lock()  # batch tasks read from threads of their own
        self._dirty = False

    def add(self, conversation: Conversation) -> ListedConversation:
        data = pickle.dumps(conversation, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(self._end)
        self._file.write(data)
        entry = ListedConversation(
            conversation.id,
            conversation.updated_at,
            # One string per contact, however many conversations name it: 200,000 entries
            # naming 60,000 contacts took 79 MB with copies, 70 MB interned (tracemalloc).
            tuple(map(sys.intern, conversation.contact_ids)),
            self._end,
            len(data),
        )
        self._end += len(data)
        self._dirty = True
        return entry

    def read(self, entry: ListedConversation) -> Conversation:
        """One conversation; safe from any thread once the listing is done (``os.pread``)."""
        if self._dirty:
            with self._flushed:
                self._file.flush()
                self._dirty = False
        conversation: Conversation = pickle.loads(
            os.pread(self._file.fileno(), entry.size, entry.offset)
        )
        return conversation

    def load(self, entries: Sequence[ListedConversation]) -> list[Conversation]:
        """The conversations of ``entries``, in that order."""
        return [self.read(entry) for entry in entries]

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class SpilledConversations(Sequence[Conversation]):
    """A batch's conversations, each read from the spill when it is reached, none kept.

    ``ids`` needs no reading. Pickled (a task runner that ships a batch to another process,
    such as Dask), it becomes the plain list of its conversations: the spill file is this
    machine's.
    """

    __slots__ = ("_entries", "_spill")

    def __init__(self, spill: ConversationSpill, entries: Sequence[ListedConversation]) -> None:
        self._spill = spill
        self._entries = entries

    @property
    def ids(self) -> list[str]:
        return [entry.id for entry in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> Conversation: ...

    @overload
    def __getitem__(self, index: slice) -> list[Conversation]: ...

    def __getitem__(self, index: int | slice) -> Conversation | list[Conversation]:
        if isinstance(index, slice):
            return self._spill.load(self._entries[index])
        return self._spill.read(self._entries[index])

    def __iter__(self) -> Iterator[Conversation]:
        return (self._spill.read(entry) for entry in self._entries)

    def __reduce__(self) -> tuple[type[list[Conversation]], tuple[list[Conversation]]]:
        return list, (list(self),)


class SpilledBatches(Sequence[ConversationBatch[Conversation]]):
    """Planned batches of listed conversations, whose conversations stay in the spill until
    they are reached (``SpilledConversations``)."""

    def __init__(
        self,
        plans: list[ConversationBatch[ListedConversation]],
        spill: ConversationSpill,
        known: Any = None,
    ) -> None:
        self._plans = plans
        self._spill = spill
        self._known = known  # a ContactLookup for continuation batches

    def __len__(self) -> int:
        return len(self._plans)

    @overload
    def __getitem__(self, index: int) -> ConversationBatch[Conversation]: ...

    @overload
    def __getitem__(self, index: slice) -> list[ConversationBatch[Conversation]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> ConversationBatch[Conversation] | list[ConversationBatch[Conversation]]:
        if isinstance(index, slice):
            return [self._load(plan) for plan in self._plans[index]]
        return self._load(self._plans[index])

    def __iter__(self) -> Iterator[ConversationBatch[Conversation]]:
        return (self._load(plan) for plan in self._plans)

    def _load(self, plan: ConversationBatch[ListedConversation]) -> ConversationBatch[Conversation]:
        known = None
        if plan.carried_ids is not None and self._known is not None:
            known = self._known.subset(plan.carried_ids)
        return ConversationBatch(
            plan.index,
            SpilledConversations(self._spill, plan.conversations),
            plan.contact_ids,
            carry=plan.carry,
            carried_ids=plan.carried_ids,
            known=known,
        )
