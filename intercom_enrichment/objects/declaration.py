"""How an Intercom object the tool reads is declared — once — and what the pipeline, writer,
manifest, completeness, PII policy, quarantine and refresh derive from it.

- ``Table``: one table of the window files (its schema, the columns that identify a row, which
  ``updated_date`` partition a row goes to, its personal and free-form columns).
- ``SearchedObject``: an object listed for a window by searching ``updated_at`` (conversations,
  tickets): its endpoints, its model, its table and child (parts) table, how its rows are
  shaped, the run option that turns it on and the names of its metrics.
- ``Snapshot``: a workspace list replaced whole by every run (``dimensions/<name>.parquet``).

The declarations themselves live in one module per object (``conversations.py``,
``tickets.py``, …); ``registry.py`` lists them.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

import pyarrow as pa
from pydantic import BaseModel

from .common import Column, Lineage, Record


class Status(StrEnum):
    """``enrichment_status`` of an object's row (docs/data-contract.md), one definition."""

    ENRICHED = "enriched"
    NO_CONTACT = "no_contact"
    CONTACT_NOT_FOUND = "contact_not_found"
    CONTACT_UNRESOLVABLE = "contact_unresolvable"
    FAILED = "failed"


DayRule = Literal["updated_at", "parent", "window"]


@dataclass(frozen=True)
class Table:
    """A table of the window files: ``<name>/updated_date=YYYY-MM-DD/<window-key>.parquet``.

    ``day`` says which partition a row goes to: the UTC date of its ``updated_at``, its parent
    row's (``parent``: the table whose row it belongs to, joined on ``key[0]``), or the window's
    start. ``once_per_window``: a key seen again in the same window is not written twice (a
    merged contact and its canonical contact are one row).
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    day: DayRule
    parent: str | None = None
    personal: tuple[str, ...] = ()  # who a person is, or what people wrote
    free_form: tuple[str, ...] = ()  # JSON text whose string values may be personal
    once_per_window: bool = False

    def __post_init__(self) -> None:
        missing = {*self.key, *self.personal, *self.free_form} - set(self.schema.names)
        if missing:
            raise ValueError(f"{self.name}: columns not in its schema: {sorted(missing)}")
        if (self.day == "parent") != (self.parent is not None):
            raise ValueError(f"{self.name}: day='parent' and a parent go together")


@dataclass(frozen=True)
class Mart:
    """A mart (``marts/<name>.sql`` → ``marts/<name>.parquet``) over a partitioned current
    table, by created day. ``names``: a column the refresh joins on every refresh, after the
    model's rows of the refreshed months are merged with its other rows — ``(column, current
    table, key, source column)`` — so that a name that changed (a company renamed) is the
    current one in every row, as a full rebuild would have it."""

    name: str
    names: tuple[str, str, str, str] | None = None


@dataclass(frozen=True)
class CurrentState:
    """How a table's current state is kept (``current/``, by ``marts/runner.py``): the latest
    row of each ``table.key[0]``.

    ``partitioned``: by creation month (``current/<table>/created_month=YYYY-MM/``, a refresh
    rewrites only the months it touches; the model ``marts/current_partitioned.sql``), with the
    model's ``added`` columns (assignee names joined from the dimension snapshots) and, for
    ``parts``, their current table (``marts/current_partitioned_parts.sql``, each part with
    its parent's ``updated_at`` as ``parts_version``) in the parent's month; else one file
    (``current/<table>.parquet``, ``marts/current_file.sql``). The models are written once for
    every object: ``$table``, ``$key``, ``$parts`` and ``$version`` in them are this
    declaration's (``model_values``). ``marts``: the models over the partitioned current rows,
    by created day (``marts/<name>.sql``, ``marts/<name>.parquet``).
    """

    table: Table
    partitioned: bool = True
    added: tuple[Column, ...] = ()
    parts: Table | None = None
    parts_version: str | None = None
    marts: tuple[Mart, ...] = ()

    @property
    def model(self) -> str:
        return "current_partitioned" if self.partitioned else "current_file"

    PARTS_MODEL = "current_partitioned_parts"

    @property
    def model_values(self) -> dict[str, str]:
        """What the models' ``$names`` stand for."""
        values = {"table": self.table.name, "key": self.key}
        if self.parts is not None and self.parts_version is not None:
            values |= {"parts": self.parts.name, "version": self.parts_version}
        return values

    @property
    def key(self) -> str:
        return self.table.key[0]

    @property
    def schema(self) -> pa.Schema:
        """Its current table's columns: the window table's, the model's, the partition."""
        month = [pa.field("created_month", pa.string())] if self.partitioned else []
        return pa.schema([*self.table.schema, *(pa.field(c[0], c[1]) for c in self.added), *month])

    @property
    def parts_schema(self) -> pa.Schema | None:
        if self.parts is None or self.parts_version is None:
            return None
        version = pa.field(self.parts_version, self.table.schema.field("updated_at").type)
        month = pa.field("created_month", pa.string())
        return pa.schema([*self.parts.schema, version, month])


@dataclass(frozen=True)
class Endpoint:
    """One request: the key it is counted under (``requests_by_endpoint``, the sandbox's
    faults), its path (``{id}`` is replaced by a checked id segment) and query parameters."""

    key: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricNames:
    """The names of one searched object's counters in the run's metrics and manifest."""

    listed: str
    written: str
    quarantined: str
    deleted: str  # listed, but deleted in Intercom since (``SearchedObject.deleted``): not written
    status: str  # prefix of the per-status counts: ``<status>`` + the status name
    parts_written: str
    parts_fetch_failed: str
    parts_quarantined: str
    parts_incomplete: str

    @classmethod
    def of(cls, plural: str, parts: str) -> "MetricNames":
        return cls(
            listed=f"{plural}_listed",
            written=f"{plural}_written",
            quarantined=f"{plural}_quarantined",
            deleted=f"{plural}_deleted",
            status=f"{plural}_status_",
            parts_written=f"{parts}_written",
            parts_fetch_failed=f"{parts}_fetch_failed",
            parts_quarantined=f"{parts}_quarantined",
            parts_incomplete=f"{plural}_parts_incomplete",
        )

    def of_status(self, status: Status) -> str:
        return f"{self.status}{status.value}"

    @property
    def names(self) -> tuple[str, ...]:
        counts = (self.listed, self.written, self.quarantined, self.deleted)
        parts = (
            self.parts_written,
            self.parts_fetch_failed,
            self.parts_quarantined,
            self.parts_incomplete,
        )
        return (*counts, *(self.of_status(s) for s in Status), *parts)


class Searched(Protocol):
    """What the pipeline needs of a searched object's model: identity, version, contacts."""

    @property
    def id(self) -> str: ...

    @property
    def updated_at(self) -> int: ...

    @property
    def contact_ids(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class FetchedParts:
    """An object's parts as one ``GET`` returned them."""

    parts: Sequence[Any]
    total_count: int | None  # the list's own count (undocumented meaning)
    statistics_count: int | None = None  # a count of parts the object's statistics give


@dataclass(frozen=True)
class RowContext:
    """What a row needs besides its object: the enrichment's outcome and the parts fetched."""

    status: Status
    lineage: Lineage
    contact: dict[str, Any]  # the primary contact's detail columns (``contacts.contact_details``)
    parts: FetchedParts | None = None  # None: parts were not fetched


@dataclass(frozen=True)
class SearchedObject:
    """An object listed for a window by ``POST <search.path>`` on ``updated_at`` (cursor pages,
    the ``search_request`` body), enriched with its contacts, and with its parts from
    ``GET <get.path>`` when parts are on."""

    kind: str  # singular, as quarantine entries and messages name it
    table: Table
    parts: Table
    search: Endpoint
    list_key: str  # the list's key in a search page
    get: Endpoint
    model: type[Record]
    read_parts: Callable[[dict[str, Any]], FetchedParts]  # raises pydantic's ValidationError
    row: Callable[[Any, RowContext], dict[str, Any]]
    part_rows: Callable[[str, Sequence[Any], Lineage], list[dict[str, Any]]]
    metrics: MetricNames
    current: CurrentState
    option: str | None = None  # the RunOptions field that turns it on; None: always on
    # the snapshot that lists its deleted ids (its rows' first column): a deleted record is
    # never written, and is purged from every window file that holds it (output/purge.py)
    deleted: str | None = None
    # Optional: a search the token, workspace or API version does not offer (403, 404, 400
    # intercom_version_invalid: errors.UNAVAILABLE) makes it *unavailable* for the run —
    # reported, the window's earlier files of its tables kept — not a failure.
    optional: bool = False

    def enabled(self, options: Mapping[str, Any]) -> bool:
        return self.option is None or bool(options.get(self.option))


@dataclass(frozen=True)
class Snapshot:
    """A workspace list (``GET <endpoint.path>``, items under the first of ``list_keys`` the
    body has: every key the documented versions use), replaced whole by every window run as
    ``dimensions/<name>.parquet``."""

    name: str
    endpoint: Endpoint
    list_keys: tuple[str, ...]
    model: type[BaseModel]
    row: Callable[[Any], dict[str, Any]]  # its first column is the item's id
    schema: pa.Schema
    personal: tuple[str, ...] = ()
    option: str | None = None  # the RunOptions field that turns it on; None: always on
    # how the list is paged: a cursor (``pages.next.starting_after``, followed when present)
    # or page numbers (``page``/``per_page``, ``pages.total_pages``; ``per_page`` at most)
    paging: Literal["cursor", "number"] = "cursor"
    per_page: int = 0
    # the run needs its rows (tag names for contacts' tags, deleted ids to leave out)
    in_memory: bool = False

    def enabled(self, options: Mapping[str, Any]) -> bool:
        return self.option is None or bool(options.get(self.option))
