"""Tickets (Customer, Back-office, Tracker): listed by ``POST /tickets/search`` on
``updated_at`` (since 2.10; the ``search_request`` body and cursor pages of conversations), their
parts from ``GET /tickets/{ticket_id}`` (since 2.9; ``ticket_parts``, at most 500), the
workspace's ticket types (``GET /ticket_types``, 2.9) and states (``GET /ticket_states``,
2.12) as dimension snapshots. Intercom-OpenAPI descriptions/2.14–2.16/api.intercom.io.yaml,
schemas ``ticket``, ``ticket_list``, ``ticket_parts``, ``ticket_part``, ``ticket_state``,
``ticket_type``, ``ticket_type_list``, ``ticket_state_list`` (docs/intercom-api.md).

Version differences read here: assignee ids are strings in 2.14/2.15 ("0" unassigned in the
examples) and integers with 0 = unassigned in 2.16; ``previous_ticket_state_id`` is 2.16 only;
before 2.12 ``ticket_state`` is a bare category string and ``GET /ticket_types`` lists under
``ticket_types`` instead of ``data``. The ticket's ``id`` is the API id; ``ticket_id`` is the
number the Inbox shows ("do not use ticket_id for API queries").
"""

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .common import (
    BOOL,
    INT,
    LINEAGE,
    PART_COLUMNS,
    PART_PERSONAL,
    STR,
    STRS,
    TS,
    AssigneeId,
    Attributes,
    ContactRefList,
    ContactRefs,
    Id,
    Lineage,
    Model,
    Part,
    PlainId,
    Record,
    Unix,
    empty_if_null,
    json_text,
    part_fields,
    schema_of,
    utc,
)
from .contacts import CONTACT_COLUMNS_FREE_FORM, CONTACT_COLUMNS_PERSONAL, contact_columns, prefixed
from .conversations import parts_columns
from .declaration import (
    CurrentState,
    Endpoint,
    FetchedParts,
    Mart,
    MetricNames,
    RowContext,
    SearchedObject,
    Snapshot,
    Table,
)

TICKETS_OPTION = "include_tickets"  # the RunOptions field that turns tickets on


def _state(value: Any) -> Any:
    """A ticket state object, or (before 2.12) its bare category."""
    return {"category": value} if isinstance(value, str) else value


class TicketState(Model):
    id: Id | None = None
    category: str | None = None  # submitted, in_progress, waiting_on_customer, resolved
    internal_label: str | None = None
    external_label: str | None = None


class TicketType(Model):
    id: Id | None = None
    name: str | None = None
    category: str | None = None


class LinkedObject(Model):
    type: str | None = None
    id: Id | None = None


class LinkedObjects(Model):
    data: list[LinkedObject] = Field(default_factory=list)


class TicketPart(Part):
    """A ``ticket_part``: a part, and the state it moved the ticket from and to."""

    previous_ticket_state: str | None = None  # categories, on state changes
    ticket_state: str | None = None


class TicketPartList(Record):
    ticket_parts: list[TicketPart] = Field(default_factory=list)
    total_count: int | None = None


class Ticket(Record):
    id: PlainId
    ticket_id: Id | None = None
    category: str | None = None
    created_at: Unix
    updated_at: Unix
    ticket_attributes: Attributes = Field(default_factory=dict)
    ticket_state: Annotated[TicketState | None, BeforeValidator(_state)] = None
    ticket_type: TicketType | None = None
    contacts: ContactRefs = Field(default_factory=ContactRefList)
    admin_assignee_id: AssigneeId = None
    team_assignee_id: AssigneeId = None
    open: bool | None = None
    snoozed_until: Unix | None = None
    linked_objects: Annotated[LinkedObjects, BeforeValidator(empty_if_null)] = Field(
        default_factory=LinkedObjects
    )
    is_shared: bool | None = None
    previous_ticket_state_id: Id | None = None

    @property
    def contact_ids(self) -> list[str]:
        return self.contacts.ids


TICKETS = Table(
    "tickets",
    schema_of(
        ("ticket_id", STR, False),
        ("ticket_number", STR),
        ("category", STR),
        ("ticket_type_id", STR),
        ("ticket_type_name", STR),
        ("ticket_state_id", STR),
        ("ticket_state_name", STR),
        ("ticket_state_category", STR),
        ("previous_ticket_state_id", STR),
        ("title", STR),
        ("created_at", TS, False),
        ("updated_at", TS, False),
        ("open", BOOL),
        ("snoozed_until", TS),
        ("is_shared", BOOL),
        ("admin_assignee_id", STR),
        ("team_assignee_id", STR),
        ("contact_ids", STRS),
        ("contact_id", STR),
        *contact_columns(),
        ("enrichment_status", STR, False),
        ("linked_conversation_ids", STRS),
        ("linked_ticket_ids", STRS),
        ("ticket_attributes", STR),
        ("first_resolved_at", TS),
        ("last_resolved_at", TS),
        ("parts_total_count", INT),
        ("parts_truncated", BOOL),
        *LINEAGE,
    ),
    key=("ticket_id",),
    day="updated_at",
    personal=(*CONTACT_COLUMNS_PERSONAL, "title"),
    free_form=("ticket_attributes", *CONTACT_COLUMNS_FREE_FORM),
)

TICKET_PARTS = Table(
    "ticket_parts",
    schema_of(
        ("ticket_id", STR, False),
        *PART_COLUMNS,
        ("previous_ticket_state", STR),
        ("ticket_state", STR),
        *LINEAGE,
    ),
    key=("ticket_id", "part_id"),
    day="parent",
    parent="tickets",
    personal=PART_PERSONAL,
)


def _linked(ticket: Ticket, kind: str) -> list[str]:
    return list(dict.fromkeys(o.id for o in ticket.linked_objects.data if o.type == kind and o.id))


def resolutions(parts: FetchedParts | None) -> list[int]:
    """When the ticket's parts show it entering a resolved state (``ticket_state`` moving to
    ``resolved``): the times of those parts, from the parts fetched (the 500 most recent)."""
    if parts is None:
        return []
    return sorted(
        p.created_at
        for p in parts.parts
        if p.ticket_state == "resolved" and p.previous_ticket_state != "resolved" and p.created_at
    )


def ticket_row(ticket: Ticket, ctx: RowContext) -> dict[str, Any]:
    state, kind = ticket.ticket_state, ticket.ticket_type
    resolved = resolutions(ctx.parts)
    title = ticket.ticket_attributes.get("_default_title_")
    contact_ids = ticket.contact_ids
    return {
        "ticket_id": ticket.id,
        "ticket_number": ticket.ticket_id,
        "category": ticket.category,
        "ticket_type_id": kind.id if kind else None,
        "ticket_type_name": kind.name if kind else None,
        "ticket_state_id": state.id if state else None,
        "ticket_state_name": state.internal_label if state else None,
        "ticket_state_category": state.category if state else None,
        "previous_ticket_state_id": ticket.previous_ticket_state_id,
        "title": title if isinstance(title, str) else None,
        "created_at": utc(ticket.created_at),
        "updated_at": utc(ticket.updated_at),
        "open": ticket.open,
        "snoozed_until": utc(ticket.snoozed_until),
        "is_shared": ticket.is_shared,
        "admin_assignee_id": ticket.admin_assignee_id,
        "team_assignee_id": ticket.team_assignee_id,
        "contact_ids": contact_ids,
        "contact_id": contact_ids[0] if contact_ids else None,
        **prefixed(ctx.contact),
        "enrichment_status": ctx.status.value,
        "linked_conversation_ids": _linked(ticket, "conversation"),
        "linked_ticket_ids": _linked(ticket, "ticket"),
        "ticket_attributes": json_text(ticket.ticket_attributes),
        "first_resolved_at": utc(resolved[0]) if resolved else None,
        "last_resolved_at": utc(resolved[-1]) if resolved else None,
        **parts_columns(ctx.parts, None),
        **ctx.lineage.columns(),
    }


def ticket_part_rows(
    ticket_id: str, parts: Sequence[Any], lineage: Lineage
) -> list[dict[str, Any]]:
    lineage_cols = lineage.columns()
    return [
        {
            "ticket_id": ticket_id,
            **part_fields(part),
            "previous_ticket_state": part.previous_ticket_state,
            "ticket_state": part.ticket_state,
            **lineage_cols,
        }
        for part in parts
    ]


def read_ticket_parts(raw: dict[str, Any]) -> FetchedParts:
    """The parts of ``GET /tickets/{ticket_id}`` (``ticket_parts``: the list and its count)."""
    parts = TicketPartList.model_validate(raw.get("ticket_parts") or {})
    return FetchedParts(parts.ticket_parts, parts.total_count)


TICKET = SearchedObject(
    kind="ticket",
    table=TICKETS,
    parts=TICKET_PARTS,
    search=Endpoint("tickets.search", "/tickets/search"),
    list_key="tickets",
    get=Endpoint("tickets.get", "/tickets/{id}"),
    model=Ticket,
    read_parts=read_ticket_parts,
    row=ticket_row,
    part_rows=ticket_part_rows,
    metrics=MetricNames.of("tickets", "ticket_parts"),
    current=CurrentState(
        TICKETS,
        added=(("admin_assignee_name", STR), ("team_assignee_name", STR)),
        parts=TICKET_PARTS,
        parts_version="ticket_updated_at",
        marts=(Mart("ticket_daily"),),
    ),
    option=TICKETS_OPTION,
    optional=True,
)


class TicketTypeItem(Model):
    """An item of ``GET /ticket_types``."""

    id: Id
    name: str | None = None
    category: str | None = None
    description: str | None = None
    archived: bool | None = None
    is_internal: bool | None = None
    created_at: Unix | None = None
    updated_at: Unix | None = None


class TicketStateItem(Model):
    """An item of ``GET /ticket_states`` (``ticket_state_detailed``)."""

    id: Id
    category: str | None = None
    internal_label: str | None = None
    external_label: str | None = None
    archived: bool | None = None
    ticket_types: Annotated[dict[str, Any], BeforeValidator(empty_if_null)] = Field(
        default_factory=dict
    )

    @property
    def ticket_type_ids(self) -> list[str]:
        data = self.ticket_types.get("data")
        items = data if isinstance(data, list) else []
        ids = (item.get("id") for item in items if isinstance(item, dict))
        return list(dict.fromkeys(str(i) for i in ids if isinstance(i, str | int)))


EXTRACTED_AT = ("extracted_at", TS, False)

TICKET_TYPES = Snapshot(
    "ticket_types",
    Endpoint("ticket_types.list", "/ticket_types"),
    ("data", "ticket_types"),  # 2.12+: data; 2.9–2.11: ticket_types (ticket_type_list)
    TicketTypeItem,
    lambda t: {
        "ticket_type_id": t.id,
        "name": t.name,
        "category": t.category,
        "description": t.description,
        "archived": t.archived,
        "is_internal": t.is_internal,
        "created_at": utc(t.created_at),
        "updated_at": utc(t.updated_at),
    },
    schema_of(
        ("ticket_type_id", STR, False),
        ("name", STR),
        ("category", STR),
        ("description", STR),
        ("archived", BOOL),
        ("is_internal", BOOL),
        ("created_at", TS),
        ("updated_at", TS),
        EXTRACTED_AT,
    ),
    option=TICKETS_OPTION,
)
TICKET_STATES = Snapshot(
    "ticket_states",
    Endpoint("ticket_states.list", "/ticket_states"),
    ("data",),
    TicketStateItem,
    lambda s: {
        "ticket_state_id": s.id,
        "category": s.category,
        "internal_label": s.internal_label,
        "external_label": s.external_label,
        "archived": s.archived,
        "ticket_type_ids": s.ticket_type_ids,
    },
    schema_of(
        ("ticket_state_id", STR, False),
        ("category", STR),
        ("internal_label", STR),
        ("external_label", STR),
        ("archived", BOOL),
        ("ticket_type_ids", STRS),
        EXTRACTED_AT,
    ),
    option=TICKETS_OPTION,
)
