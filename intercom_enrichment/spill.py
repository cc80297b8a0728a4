"""A window's listed conversations on local disk, so memory holds only what planning needs.

Listing a busy window returns hundreds of thousands of conversations. Holding them all as
parsed objects costs tens of KB each, so a window's peak memory would grow with its size. Instead
the listing appends each validated ``Conversation`` to a spill file in a private temporary folder
and keeps a ``ListedConversation`` — id, ``updated_at``, contact ids, where its record lies — for
de-duplication and batch planning. Batches are read back just before they are enriched, a few at
a time (``SpilledBatches``), so peak memory follows the batch size, not the window.

The records are pickled by this process and read only by it (never data from elsewhere).
"""

import os
import pickle
import shutil
import tempfile
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

    def add(self, conversation: Conversation) -> ListedConversation:
        data = pickle.dumps(conversation, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(self._end)
        self._file.write(data)
        entry = ListedConversation(
            conversation.id,
            conversation.updated_at,
            tuple(conversation.contact_ids),
            self._end,
            len(data),
        )
        self._end += len(data)
        return entry

    def load(self, entries: Sequence[ListedConversation]) -> list[Conversation]:
        """The conversations of ``entries``, in that order."""
        self._file.flush()
        out = []
        for entry in entries:
            self._file.seek(entry.offset)
            out.append(pickle.loads(self._file.read(entry.size)))
        return out

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class SpilledBatches(Sequence[ConversationBatch[Conversation]]):
    """Planned batches of listed conversations, read from the spill when accessed.

    Executors take ``batches[first:first + in_flight]``: only those batches are in memory.
    """

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
            self._spill.load(plan.conversations),
            plan.contact_ids,
            carry=plan.carry,
            carried_ids=plan.carried_ids,
            known=known,
        )
