"""A window's listed objects on local disk, so memory holds only what planning needs.

Listing a busy window returns hundreds of thousands of conversations (or tickets). Holding them
all as parsed objects costs tens of KB each, so a window's peak memory would grow with its size.
Instead the listing appends each valid record's JSON text (a conversation's, a ticket's: the
text its writability check made) to a spill file in a private temporary folder and keeps, in
columns (``ListedEntries``), its id, ``updated_at``, contact ids and where its record lies, for
de-duplication and batch planning. A batch's records are read back
one at a time, while its rows are made (``SpilledRecords``) — after its contact lookups,
which is where a batch spends its time — so a batch waiting on the API holds no records,
and peak memory follows the batch size, not the window.

The file holds JSON, not pickles: the text is already made by the check, so a record costs no
encoding of its own (pickling took 32 µs a conversation, ``benchmarks/record_costs.py``), and
what is read back is parsed as data, never executed.
"""

import os
import shutil
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from intercom_enrichment.objects.common import CHECKED, Record

from .batching import Batch, BatchPlan, Concatenated

K = TypeVar("K")
T = TypeVar("T")


class _Mapped(Sequence[T], Generic[K, T]):
    """``make(key)`` for each of ``keys``, made when it is reached and not kept."""

    __slots__ = ("_keys", "_make")

    def __init__(self, keys: Sequence[K], make: Callable[[K], T]) -> None:
        self._keys = keys
        self._make = make

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._make(key) for key in self._keys[index]]
        return self._make(self._keys[index])

    def __iter__(self) -> Iterator[T]:
        return (self._make(key) for key in self._keys)


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """One listed object: what planning needs, and where the rest of it lies."""

    id: str
    updated_at: int
    contact_ids: tuple[str, ...]
    offset: int
    size: int


class ListedEntries(Sequence[ListedEntry]):
    """A window's listed objects, in columns, with no Python object per object.

    Ids are UTF-8 bytes one after another, the rest machine integers in ``array``s
    (``updated_at``, where the record lies in the spill, where its contacts start),
    contacts indexes into one list of distinct contact ids. One ``ListedEntry`` object
    each took 352 bytes (tracemalloc, 200,000 naming 60,000 contacts) and, made while pages
    were parsed, left Python's small-object heap fragmented once freed: a 200,000-conversation
    window still held 75 MB of empty pools after it had finished (``sys._debugmallocstats``).
    Indexing gives a ``ListedEntry`` made on demand.

    While listing, every version seen is added; ``sorted_by_id`` keeps each id's latest and
    gives the final, read-only table.
    """

    def __init__(self) -> None:
        self._sealed = False
        self._ids = bytearray()  # every id's UTF-8, one after another…
        self._id_ends = array("q", [0])  # …row i's is _ids[_id_ends[i]:_id_ends[i + 1]]
        self._updated_at = array("q")
        self._offset = array("q")
        self._size = array("q")
        self._first = array("q")  # where the row's contacts start in _refs…
        self._count = array("q")  # …and how many
        self._refs = array("q")  # indexes into _contacts
        self._contacts: list[str] = []
        self._contact_index: dict[str, int] = {}

    def add(
        self,
        record_id: str,
        updated_at: int,
        contact_ids: Sequence[str],
        location: tuple[int, int],
    ) -> None:
        """List a version of an object (``location``: where it lies in the spill)."""
        if self._sealed:
            raise RuntimeError("a sorted listing is read-only")
        self._first.append(len(self._refs))
        self._count.append(len(contact_ids))
        for contact in contact_ids:
            index = self._contact_index.setdefault(contact, len(self._contacts))
            if index == len(self._contacts):
                self._contacts.append(contact)
            self._refs.append(index)
        self._ids += record_id.encode()
        self._id_ends.append(len(self._ids))
        self._updated_at.append(updated_at)
        self._offset.append(location[0])
        self._size.append(location[1])

    def sorted_by_id(self) -> "ListedEntries":
        """Each id once, in its latest version (the greatest ``updated_at``; of equal ones, the
        first listed), ordered by id with numeric ids in numeric order; read-only. Sorted by
        Arrow, on the columns' own buffers: no Python object per record here either."""
        n = len(self)
        ids = self._arrow_ids()
        order = pc.sort_indices(
            pa.table(
                {"length": pc.utf8_length(ids), "id": ids, "updated": _arrow(self._updated_at)}
            ),
            sort_keys=[("length", "ascending"), ("id", "ascending"), ("updated", "descending")],
        )  # a stable sort: of equal versions, the first listed comes first
        ordered = ids.take(order)
        starts = pc.not_equal(ordered.slice(1), ordered.slice(0, max(n - 1, 0)))
        rows = order.filter(pa.concat_arrays([pa.array([True] if n else [], pa.bool_()), starts]))
        return self._take(ids, rows)

    def _arrow_ids(self) -> pa.Array:
        n = len(self)
        return pa.Array.from_buffers(
            pa.large_string(), n, [None, pa.py_buffer(self._id_ends), pa.py_buffer(self._ids)]
        )

    def _take(self, ids: pa.Array, rows: pa.Array) -> "ListedEntries":
        """A sealed listing of ``rows`` (positions in this one), in that order."""
        out = ListedEntries()
        out._sealed = True
        kept = ids.take(rows)
        out._ids = bytearray(kept.buffers()[2] or b"")
        out._id_ends = _column(kept.buffers()[1], n=len(rows) + 1)
        for name in ("_updated_at", "_offset", "_size", "_first", "_count"):
            kept_column = _arrow(getattr(self, name)).take(rows)
            setattr(out, name, _column(kept_column.buffers()[1], n=len(rows)))
        out._refs, out._contacts, out._contact_index = (
            self._refs,
            self._contacts,
            self._contact_index,
        )
        return out

    def without(self, ids: frozenset[str] | set[str]) -> "ListedEntries":
        """This listing less the records whose id is in ``ids`` (deleted meanwhile), in the
        same order."""
        if not ids or not len(self):
            return self
        listed = self._arrow_ids()
        gone = pc.is_in(listed, value_set=pa.array(sorted(ids), pa.large_string()))
        rows = pc.indices_nonzero(pc.invert(gone))
        return self._take(listed, rows)

    def __len__(self) -> int:
        return len(self._updated_at)

    @overload
    def __getitem__(self, index: int) -> ListedEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[ListedEntry]: ...

    def __getitem__(self, index: int | slice) -> ListedEntry | list[ListedEntry]:
        return _Mapped(range(len(self)), self._entry)[index]

    def _entry(self, row: int) -> ListedEntry:
        return ListedEntry(
            self.id(row),
            self._updated_at[row],
            self.contact_ids(row),
            self._offset[row],
            self._size[row],
        )

    def id(self, row: int) -> str:
        return self._ids[self._id_ends[row] : self._id_ends[row + 1]].decode()

    def contact_ids(self, row: int) -> tuple[str, ...]:
        first = self._first[row]
        return tuple(self._contacts[i] for i in self._refs[first : first + self._count[row]])

    @property
    def contacts(self) -> Sequence[tuple[str, ...]]:
        """Each record's contact ids, primary first (what ``plan_positions`` needs)."""
        return _Mapped(range(len(self)), self.contact_ids)

    def ids(self, rows: Iterable[int]) -> list[str]:
        return [self.id(row) for row in rows]

    def location(self, row: int) -> tuple[int, int]:
        """Where the record lies in the spill: (offset, size)."""
        return self._offset[row], self._size[row]


def _arrow(column: "array[int]") -> pa.Array:
    """An ``array('q')`` as an Arrow int64 array over the same memory."""
    return pa.Array.from_buffers(pa.int64(), len(column), [None, pa.py_buffer(column)])


def _column(buffer: pa.Buffer | None, n: int) -> "array[int]":
    """An ``array('q')`` of the first ``n`` int64 values of an Arrow buffer (a copy)."""
    column = array("q")
    if buffer is not None and n:
        column.frombytes(memoryview(buffer)[: n * 8])
    return column


class RecordSpill:
    """An append-only file of records in a temporary folder of its own: each record's JSON text,
    as ``guards.writable_json`` encoded it to check it, read back as a ``model``."""

    def __init__(self, model: type[Record]) -> None:
        self.model = model
        self._dir = tempfile.mkdtemp(prefix="intercom-listing-")
        self.path = os.path.join(self._dir, "records.json")
        self._file = open(self.path, "w+b")  # noqa: SIM115 - closed by close()
        self._end = 0
        self._flushed = threading.Lock()  # batch tasks read from threads of their own
        self._dirty = False

    def add(self, data: bytes) -> tuple[int, int]:
        """Append one record's checked JSON text; where it lies: (offset, size)."""
        self._file.seek(self._end)
        self._file.write(data)
        location = self._end, len(data)
        self._end += len(data)
        self._dirty = True
        return location

    def read(self, offset: int, size: int) -> Record:
        """One record; safe from any thread once the listing is done (``os.pread``). Its text
        passed the writability check when listed, so validation skips it (``CHECKED``); it is
        otherwise the listing's own validation, of the same values (a JSON round trip of parsed
        JSON is exact), so it gives the same record. orjson reads it: checked text has no
        non-finite number, no lone surrogate and no integer beyond int64, all of which orjson
        reads exactly (and 1.4× faster than ``json``, benchmarks/record_costs.py)."""
        if self._dirty:
            with self._flushed:
                self._file.flush()
                self._dirty = False
        raw = orjson.loads(os.pread(self._file.fileno(), size, offset))
        return self.model.model_validate(raw, context=CHECKED)

    def load(self, entries: Iterable[ListedEntry]) -> list[Record]:
        """The records of ``entries``, in that order."""
        return [self.read(entry.offset, entry.size) for entry in entries]

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class SpilledRecords(_Mapped[int, Record]):
    """A batch's records, each read from the spill when it is reached, none kept.

    ``ids`` needs no reading. Pickled (a task runner that ships a batch to another process,
    such as Dask), it becomes the plain list of its records: the spill file is this
    machine's.
    """

    __slots__ = ("_listed",)

    def __init__(self, spill: RecordSpill, listed: ListedEntries, rows: Sequence[int]) -> None:
        super().__init__(rows, lambda row: spill.read(*listed.location(row)))
        self._listed = listed

    @property
    def ids(self) -> list[str]:
        return self._listed.ids(self._keys)

    def __reduce__(self) -> tuple[type[list[Record]], tuple[list[Record]]]:
        return list, (list(self),)


class SpilledBatches(_Mapped[BatchPlan, Batch[Any]]):
    """Planned batches over one or more listings (conversations, tickets: ``sources``, their
    positions one after another as ``batching.Concatenated`` numbers them), whose records stay
    in the spills until they are reached (``SpilledRecords``)."""

    __slots__ = ("_known", "_positions", "_sources")

    def __init__(
        self,
        plans: list[BatchPlan],
        sources: Sequence[tuple[Any, RecordSpill, ListedEntries]],
        known: Any = None,
    ) -> None:
        super().__init__(plans, self._load)
        self._sources = sources  # (object declaration, its spill, its listed entries)
        self._positions = Concatenated([listed.contacts for _, _, listed in sources])
        self._known = known  # a ContactLookup for continuation batches

    def _load(self, plan: BatchPlan) -> Batch[Any]:
        known = None
        if plan.carried_ids is not None and self._known is not None:
            known = self._known.subset(plan.carried_ids)
        rows: list[array[int]] = [array("q") for _ in self._sources]
        for position in plan.positions:
            part, row = self._positions.locate(position)
            rows[part].append(row)
        groups = [
            (obj, SpilledRecords(spill, listed, part_rows))
            for (obj, spill, listed), part_rows in zip(self._sources, rows, strict=True)
            if part_rows
        ]
        return Batch(
            plan.index,
            groups,
            plan.contact_ids,
            carry=plan.carry,
            carried_ids=plan.carried_ids,
            known=known,
        )
