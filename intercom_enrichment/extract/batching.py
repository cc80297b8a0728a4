"""Split a window's listed objects (conversations, tickets) into batches such that each
distinct contact is fetched once.

Every batch owns a set of contacts — whole chunks of 150, the ``IN`` size of one bulk contact
search, except the last batch — and every conversation whose primary contact it owns, so bulk
lookups stay at ⌈contacts ÷ 150⌉ calls and no contact is looked up by two batches. Contacts are
spread over the batches heaviest first, each to the batch with the fewest conversations that
still has room, so that a few very active contacts do not make one batch much longer than the
others (contact activity is skewed: a handful of customers write most conversations).
"""

import bisect
import heapq
import itertools
import math
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar, overload

from intercom_enrichment.api.settings import CONTACT_SEARCH_MAX_IDS


class HasContacts(Protocol):
    """What planning needs of a listed object: its id and contacts, primary first."""

    @property
    def id(self) -> str: ...

    @property
    def contact_ids(self) -> Sequence[str]: ...


C = TypeVar("C", bound=HasContacts)


class Batch(Generic[C]):
    """One enrichment task's work: listed records, in groups by object (conversations,
    tickets), and the contacts it looks up — once, for every group.

    A plain class on purpose, not a dataclass: orchestrators walk dataclasses, pydantic models
    and containers passed to tasks (Prefect does, to find futures), which costs seconds for
    thousands of records; they pass a plain object through untouched.
    """

    __slots__ = ("carried_ids", "carry", "contact_ids", "groups", "index", "known")

    def __init__(
        self,
        index: int,
        groups: Sequence[tuple[Any, Sequence[C]]],
        contact_ids: list[str],
        *,
        carry: list[str] | None = None,
        carried_ids: list[str] | None = None,
        known: Any = None,
    ):
        self.index = index
        # (object declaration, its records): lists, or read from the spill when reached
        self.groups = groups
        self.contact_ids = contact_ids  # the contacts this batch looks up
        self.carry = carry or []  # of those, the ones later batches need: hand their lookup on
        self.carried_ids = carried_ids  # a continuation: contacts an earlier batch looked up
        self.known = known  # …and their lookup (a ``ContactLookup``), once handed on

    @property
    def records(self) -> list[C]:
        """Every record of every group (reads spilled ones: small batches and tests)."""
        return [record for _, records in self.groups for record in records]

    @staticmethod
    def ids_of(records: Sequence[C]) -> list[str]:
        """Ids of a group's records, without reading spilled ones (``SpilledRecords.ids``)."""
        ids = getattr(records, "ids", None)
        return list(ids) if ids is not None else [c.id for c in records]

    @property
    def record_ids(self) -> list[str]:
        return [i for _, records in self.groups for i in self.ids_of(records)]

    @property
    def continuation(self) -> bool:
        return self.carried_ids is not None

    def __len__(self) -> int:
        return sum(len(records) for _, records in self.groups)

    def __repr__(self) -> str:
        return f"Batch({self.index}, {len(self)} records, {len(self.contact_ids)} contacts)"


def distinct_contact_ids(contacts: Sequence[Sequence[str]]) -> list[str]:
    """Of each conversation's contacts (primary first): primary contacts first, in
    conversation order, then contacts only ever secondary."""
    primary = dict.fromkeys(ids[0] for ids in contacts if ids)
    secondary = dict.fromkeys(i for ids in contacts for i in ids[1:] if i not in primary)
    return [*primary, *secondary]


class BatchPlan:
    """A planned batch: the positions of its conversations in the planned sequence, and the
    contacts it looks up. Positions are a compact ``array`` — a window's plans hold one
    machine integer per conversation, not an object (spill.py)."""

    __slots__ = ("carried_ids", "carry", "contact_ids", "index", "positions")

    def __init__(
        self,
        index: int,
        positions: "array[int]",
        contact_ids: list[str],
        *,
        carried_ids: list[str] | None = None,
    ):
        self.index = index
        self.positions = positions
        self.contact_ids = contact_ids
        self.carry: list[str] = []
        self.carried_ids = carried_ids

    @property
    def continuation(self) -> bool:
        return self.carried_ids is not None


def plan_batches(records: Sequence[C], *, batch_size: int, obj: Any = None) -> list[Batch[C]]:
    """Batches of about ``batch_size`` records (of the object ``obj``), each owning whole
    contact chunks."""
    plans = plan_positions([c.contact_ids for c in records], batch_size=batch_size)
    return [
        Batch(
            plan.index,
            [(obj, [records[p] for p in plan.positions])],
            plan.contact_ids,
            carry=plan.carry,
            carried_ids=plan.carried_ids,
        )
        for plan in plans
    ]


def plan_positions(contacts: Sequence[Sequence[str]], *, batch_size: int) -> list[BatchPlan]:
    """``plan_batches`` on each record's contacts (primary first), by position: in a window,
    the positions of every listed object one after another (``Concatenated``), so that a
    contact of a conversation and of a ticket is looked up once."""
    if not contacts:
        return []
    ids = distinct_contact_ids(contacts)
    load = Counter(c[0] for c in contacts if c)
    chunks = max(1, round(batch_size * len(ids) / len(contacts) / CONTACT_SEARCH_MAX_IDS))
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
    positions = [array("q") for _ in range(n_batches)]
    orphans = 0
    for position, conversation_contacts in enumerate(contacts):
        if conversation_contacts:
            positions[owner[conversation_contacts[0]]].append(position)
        else:  # no contact: nothing to look up; spread evenly
            positions[orphans % n_batches].append(position)
            orphans += 1
    owners = [
        BatchPlan(b, positions[b], owned[b]) for b in range(n_batches) if positions[b] or owned[b]
    ]
    return _bounded(owners, contacts, batch_size)


def _bounded(
    owners: list[BatchPlan], contacts: Sequence[Sequence[str]], batch_size: int
) -> list[BatchPlan]:
    """Cut batches longer than ``batch_size``: their surplus conversations go into continuation
    batches (after every owner batch) that reuse the owner's lookup instead of repeating it.

    Contact activity is skewed: one contact of a busy window can have thousands of conversations,
    and a batch owns whole contacts, so without this a batch (and the memory it needs) would grow
    with the window. The owner looks up its contacts once and hands on (``carry``) those that
    its continuations need; the pipeline passes them along (``known``).
    """

    def primary(position: int) -> str | None:
        return contacts[position][0] if contacts[position] else None

    out = list(owners)
    for owner in owners:
        if len(owner.positions) <= batch_size:
            continue
        # The owner keeps the conversations of its least active contacts; the most active
        # ones' spill over, so that few contacts need handing on.
        weight = Counter(map(primary, owner.positions))
        ranked = array("q", sorted(owner.positions, key=lambda p: weight[primary(p)]))  # stable
        owner.positions, surplus = ranked[:batch_size], ranked[batch_size:]
        carried: set[str] = set()
        for first in range(0, len(surplus), batch_size):
            part = surplus[first : first + batch_size]
            needs = sorted({p for p in map(primary, part) if p is not None})
            carried.update(needs)
            out.append(BatchPlan(len(out), part, [], carried_ids=needs))
        owner.carry = sorted(carried)
    return out


class Concatenated(Sequence[tuple[str, ...]]):
    """Several listings' contact sequences as one, by position (no copy)."""

    def __init__(self, parts: Sequence[Sequence[tuple[str, ...]]]) -> None:
        self.parts = parts
        self.starts = list(itertools.accumulate((len(p) for p in parts), initial=0))

    def __len__(self) -> int:
        return self.starts[-1]

    def locate(self, position: int) -> tuple[int, int]:
        """(which part, position within it)."""
        part = bisect.bisect_right(self.starts, position) - 1
        return part, position - self.starts[part]

    @overload
    def __getitem__(self, index: int) -> tuple[str, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, ...] | list[tuple[str, ...]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        part, within = self.locate(index)
        return tuple(self.parts[part][within])
