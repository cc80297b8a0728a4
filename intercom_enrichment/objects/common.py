"""What every object's declaration is made of: tolerant pydantic types for Intercom's fields,
the column types of the contract, lineage, and the generic shape of a search page.

Tolerant where Intercom's versions differ (docs/intercom-api.md): ids arrive as integers or
strings and always leave as strings; an unassigned assignee is null (≤2.15), "0" or 0 (2.16);
free text stays free; unknown fields are ignored. Strict where it matters: an object without an
id or ``updated_at`` is invalid and is quarantined, not guessed, and so is a record that breaks
``quality.guards`` (one rule: nesting, non-finite or beyond-int64 numbers, invalid Unicode,
timestamps out of range, ids that are not plain Intercom ids).
"""

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

import pyarrow as pa
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from intercom_enrichment.quality.guards import (
    StrictObject,
    is_plain_id,
    timestamp_reason,
    unwritable_reason,
)

# -- column types of the contract (docs/data-contract.md) -------------------------------------

TS = pa.timestamp("us", tz="UTC")
STR = pa.string()
INT = pa.int64()
BOOL = pa.bool_()
FLOAT = pa.float64()
STRS = pa.list_(pa.string())

Column = tuple[str, pa.DataType] | tuple[str, pa.DataType, bool]
LINEAGE: list[Column] = [
    ("window_start", TS, False),
    ("window_end", TS, False),
    ("extracted_at", TS, False),
]


def schema_of(*columns: Column) -> pa.Schema:
    """A table's schema: ``(name, type)`` columns are nullable, ``(name, type, False)`` not."""
    return pa.schema(
        [pa.field(c[0], c[1], nullable=c[2] if len(c) == 3 else True) for c in columns]
    )


# -- pydantic field types ---------------------------------------------------------------------


def _id(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an id cannot be a boolean")
    if isinstance(value, int):
        return str(value)
    return value


def _assignee(value: Any) -> Any:
    """Unassigned is null in ≤2.15 (or "0" in its examples) and 0 in 2.16: all mean None."""
    value = _id(value)
    return None if value in (None, "", "0") else value


def _unix(value: Any) -> Any:
    """UNIX seconds; tolerate floats and numeric strings."""
    if isinstance(value, bool):
        raise ValueError("a timestamp cannot be a boolean")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a timestamp that is not finite")
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _in_range(value: int) -> int:
    reason = timestamp_reason(value)
    if reason:
        raise ValueError(reason)
    return value


def _plain(value: str) -> str:
    if not is_plain_id(value):
        raise ValueError("not a plain Intercom id")  # never the id itself: it may be huge
    return value


def empty_if_null(value: Any) -> Any:
    """``null`` where Intercom usually sends an object or list: treat it as empty."""
    return {} if value is None else value


Id = Annotated[str, BeforeValidator(_id)]
Ids = Annotated[list[Id], BeforeValidator(lambda v: [] if v is None else v)]
Attributes = Annotated[dict[str, Any], BeforeValidator(empty_if_null)]
AssigneeId = Annotated[str | None, BeforeValidator(_assignee)]
Unix = Annotated[int, BeforeValidator(_unix), AfterValidator(_in_range)]
PlainId = Annotated[str, BeforeValidator(_id), AfterValidator(_plain)]  # ids that enter URLs


# The validation context of a record whose raw form has passed ``guards.writable_json`` already
# (the listing checks it, and its spill keeps that text): the whole-record check is not repeated.
CHECKED = object()


class Record(BaseModel):
    """A top-level object of a response: checked whole against ``guards`` before its fields,
    unless validated with ``context=CHECKED``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _writable(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context is CHECKED:
            return data
        reason = unwritable_reason(data)
        if reason:
            raise ValueError(reason)
        return data


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ref(Model):
    type: str | None = None
    id: Id | None = None


class ContactRef(Model):
    id: Id


class ContactRefList(Model):
    contacts: list[ContactRef] = Field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """Every contact, in API order, without repeats."""
        return list(dict.fromkeys(ref.id for ref in self.contacts))


ContactRefs = Annotated[ContactRefList, BeforeValidator(empty_if_null)]


class Author(Model):
    type: str | None = None
    id: Id | None = None
    name: str | None = None
    email: str | None = None


class Part(Model):
    """What every part (of a conversation, of a ticket) has: ``conversation_part`` and
    ``ticket_part`` (OpenAPI 2.16) share these fields."""

    id: Id
    part_type: str | None = None
    body: str | None = None
    created_at: Unix | None = None
    updated_at: Unix | None = None
    author: Author | None = None
    assigned_to: Ref | None = None
    redacted: bool | None = None


# The columns of a part shared by every parts table (after its parent's key), their values of
# a part, and the personal ones among them.
PART_COLUMNS: list[Column] = [
    ("part_id", STR, False),
    ("part_type", STR),
    ("created_at", TS),
    ("updated_at", TS),
    ("author_type", STR),
    ("author_id", STR),
    ("author_name", STR),
    ("author_email", STR),
    ("body", STR),
    ("assigned_to_type", STR),
    ("assigned_to_id", STR),
    ("redacted", BOOL),
]
PART_PERSONAL = ("body", "author_name", "author_email")


def part_fields(part: Part) -> dict[str, Any]:
    author, assigned = part.author, part.assigned_to
    return {
        "part_id": part.id,
        "part_type": part.part_type,
        "created_at": utc(part.created_at),
        "updated_at": utc(part.updated_at),
        "author_type": author.type if author else None,
        "author_id": author.id if author else None,
        "author_name": author.name if author else None,
        "author_email": author.email if author else None,
        "body": part.body,
        "assigned_to_type": assigned.type if assigned else None,
        "assigned_to_id": assigned.id if assigned else None,
        "redacted": part.redacted,
    }


class Tag(Model):
    id: Id | None = None
    name: str | None = None


class NextPage(Model):
    starting_after: str | None = None


class Pages(Model):
    next: NextPage | None = None


class SearchPage(Model):
    """One page of a search (``POST /conversations/search``, ``/tickets/search``,
    ``/contacts/search``): its items stay raw until validated one by one. The list is required,
    under the key the object declares: a body without it is not a page (never an empty one).
    ``strict``: the body was a ``guards.StrictObject``, whose items only nesting can make
    unwritable."""

    items: list[dict[str, Any]]
    total_count: int | None = None
    pages: Pages | None = None
    strict: bool = False

    @classmethod
    def of(cls, body: dict[str, Any], list_key: str) -> "SearchPage":
        return cls.model_validate(
            {
                "items": body.get(list_key),
                "total_count": body.get("total_count"),
                "pages": body.get("pages"),
                "strict": isinstance(body, StrictObject),
            }
        )

    @property
    def next_cursor(self) -> str | None:
        return self.pages.next.starting_after if self.pages and self.pages.next else None


# -- rows -------------------------------------------------------------------------------------


class WindowBounds(Protocol):
    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class Lineage:
    window: WindowBounds
    extracted_at: datetime

    def columns(self) -> dict[str, datetime]:
        return {
            "window_start": self.window.start,
            "window_end": self.window.end,
            "extracted_at": self.extracted_at,
        }


def utc(unix_seconds: int | None) -> datetime | None:
    return None if unix_seconds is None else datetime.fromtimestamp(unix_seconds, UTC)


def json_text(value: Any) -> str | None:
    """Free-form objects as JSON text with sorted keys, so the column type never varies."""
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def to_table(rows: list[dict[str, object]], schema: pa.Schema) -> pa.Table:
    """Rows → a table of exactly ``schema`` (missing keys become nulls of the column's type).

    A key the schema does not name is a bug where the rows were built (a typo such as
    ``sla_stauts`` would otherwise be dropped silently and its column written null): it raises.
    """
    unknown = set().union(*rows) - set(schema.names)
    if unknown:
        raise ValueError(f"row keys not in the table's schema: {sorted(unknown)[:5]}")
    return pa.Table.from_pylist(rows, schema=schema)
