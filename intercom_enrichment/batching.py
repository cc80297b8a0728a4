"""Split a window's conversations into batches such that each distinct contact is fetched once.

Every batch owns a set of contacts — whole chunks of 150, the ``IN`` size of one bulk contact
search, except the last batch — and every conversation whose primary contact it owns, so bulk
lookups stay at ⌈contacts ÷ 150⌉ calls and no contact is looked up by two batches. Contacts are
spread over the batches heaviest first, each to the batch with the fewest conversations that
still has room, so that a few very active contacts do not make one batch much longer than the
others (contact activity is skewed: a handful of customers write most conversations).
"""

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from .settings import CONTACT_SEARCH_MAX_IDS


class HasContacts(Protocol):
    """What planning needs of a conversation: its id and contacts, primary first."""

    @property
    def id(self) -> str: ...

    @property
    def contact_ids(self) -> Sequence[str]: ...


C = TypeVar("C", bound=HasContacts)


class ConversationBatch(Generic[C]):
    """One enrichment task's work: conversations and the contacts it looks up.

    A plain class on purpose, not a dataclass: orchestrators walk dataclasses, pydantic models
    and containers passed to tasks (Prefect does, to find futures), which costs seconds for
    thousands of conversations; they pass a plain object through untouched.
    """

    __slots__ = ("carried_ids", "carry", "contact_ids", "conversations", "index", "known")

    def __init__(
        self,
        index: int,
        conversations: Sequence[C],
        contact_ids: list[str],
        *,
        carry: list[str] | None = None,
        carried_ids: list[str] | None = None,
        known: Any = None,
    ):
        self.index = index
        self.conversations = conversations  # a list, or read from the spill when reached
        self.contact_ids = contact_ids  # the contacts this batch looks up
        self.carry = carry or []  # of those, the ones later batches need: hand their lookup on
        self.carried_ids = carried_ids  # a continuation: contacts an earlier batch looked up
        self.known = known  # …and their lookup (a ``ContactLookup``), once handed on

    @property
    def conversation_ids(self) -> list[str]:
        """Without reading spilled conversations (``spill.SpilledConversations.ids``)."""
        ids = getattr(self.conversations, "ids", None)
        return list(ids) if ids is not None else [c.id for c in self.conversations]

    @property
    def continuation(self) -> bool:
        return self.carried_ids is not None

    def __repr__(self) -> str:
        return (
            f"ConversationBatch({self.index}, {len(self.conversations)} conversations, "
            f"{len(self.contact_ids)} contacts)"
        )


def distinct_contact_ids(conversations: Sequence[HasContacts]) -> list[str]:
    """Primary contacts first, in conversation order, then contacts only ever secondary."""
    primary = dict.fromkeys(c.contact_ids[0] for c in conversations if c.contact_ids)
    secondary = dict.fromkeys(
        i for c in conversations for i in c.contact_ids[1:] if i not in primary
    )
    return [*primary, *secondary]


def plan_batches(conversations: Sequence[C], *, batch_size: int) -> list[ConversationBatch[C]]:
    """Batches of about ``batch_size`` conversations, each owning whole contact chunks."""
    if not conversations:
        return []
    ids = distinct_contact_ids(conversations)
    load = Counter(c.contact_ids[0] for c in conversations if c.contact_ids)
    chunks = max(1, round(batch_size * len(ids) / len(conversations) / CONTACT_SEARCH_MAX_IDS))
    capacity = chunks * CONTACT_SEARCH_MAX_IDS
    n_batches = max(1, math.ceil(len(ids) / capacity))
    sizes = [capacity] * (n_batches - 1) + [len(ids) - capacity * (n_batches - 1)]
    owned: list[list[str]] = [[] for _ in range(n_batches)]
    heap = [(0, b) for b in range(n_batches) if sizes[b] > 0]  # (conversations, batch)
    owner: dict[str, int] = {}
    for cid in sorted(ids, key=lambda i: -load[i]):  # stable: ties keep first-seen order
        conversations_so_far, b = heapq.heappop(heap)
        owner[cid] = b
        owned[b].append(cid)
        if len(owned[b]) < sizes[b]:
            heapq.heappush(heap, (conversations_so_far + load[cid], b))
    convs: list[list[C]] = [[] for _ in range(n_batches)]
    orphans = 0
    for conv in conversations:
        if conv.contact_ids:
            convs[owner[conv.contact_ids[0]]].append(conv)
        else:  # no contact: nothing to look up; spread evenly
            convs[orphans % n_batches].append(conv)
            orphans += 1
    owners = [
        ConversationBatch(b, convs[b], owned[b]) for b in range(n_batches) if convs[b] or owned[b]
    ]
    return _bounded(owners, batch_size)


def _bounded(owners: list[ConversationBatch[C]], batch_size: int) -> list[ConversationBatch[C]]:
    """Cut batches longer than ``batch_size``: their surplus conversations go into continuation
    batches (after every owner batch) that reuse the owner's lookup instead of repeating it.

    Contact activity is skewed: one contact of a busy window can have thousands of conversations,
    and a batch owns whole contacts, so without this a batch (and the memory it needs) would grow
    with the window. The owner looks up its contacts once and hands on (``carry``) those that
    its continuations need; the pipeline passes them along (``known``).
    """
    out = list(owners)
    for owner in owners:
        if len(owner.conversations) <= batch_size:
            continue
        # The owner keeps the conversations of its least active contacts; the most active
        # ones' spill over, so that few contacts need handing on.
        weight = Counter(_primary(c) for c in owner.conversations)
        ranked = sorted(owner.conversations, key=lambda c: weight[_primary(c)])  # stable
        owner.conversations, surplus = ranked[:batch_size], ranked[batch_size:]
        carried: set[str] = set()
        for first in range(0, len(surplus), batch_size):
            part = surplus[first : first + batch_size]
            needs = sorted({p for p in map(_primary, part) if p is not None})
            carried.update(needs)
            out.append(ConversationBatch(len(out), part, [], carried_ids=needs))
        owner.carry = sorted(carried)
    return out


def _primary(conversation: HasContacts) -> str | None:
    return conversation.contact_ids[0] if conversation.contact_ids else None
