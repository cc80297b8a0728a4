"""Conversations: listed by ``POST /conversations/search`` on ``updated_at`` (cursor pages,
at most 150 per page), their parts from ``GET /conversations/{id}`` (the 500 most recent),
Intercom-OpenAPI descriptions/2.14–2.16 (docs/intercom-api.md)."""

from collections.abc import Sequence
from typing import Annotated, Any

import pyarrow as pa
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
    Author,
    ContactRefList,
    ContactRefs,
    Id,
    Lineage,
    Model,
    Part,
    PlainId,
    Record,
    Tag,
    Unix,
    empty_if_null,
    json_text,
    part_fields,
    schema_of,
    utc,
)
from .contacts import (
    CONTACT_COLUMNS_FREE_FORM,
    CONTACT_COLUMNS_PERSONAL,
    contact_columns,
    prefixed,
)
from .declaration import (
    CurrentState,
    Endpoint,
    FetchedParts,
    Mart,
    MetricNames,
    RowContext,
    SearchedObject,
    Table,
)

TEAM_TIMES = pa.list_(pa.struct([("team_id", STR), ("team_name", STR), ("response_time", INT)]))
MAX_RETURNED_PARTS = 500  # GET /conversations/{id} and /tickets/{id} return at most 500 parts


class Source(Model):
    type: str | None = None
    delivered_as: str | None = None
    subject: str | None = None
    author: Author | None = None


class TagList(Model):
    tags: list[Tag] = Field(default_factory=list)


class TeamResponseTime(Model):
    team_id: Id | None = None
    team_name: str | None = None
    response_time: int | None = None  # seconds


TeamResponseTimes = Annotated[
    list[TeamResponseTime], BeforeValidator(lambda v: [] if v is None else v)
]


class Statistics(Model):
    """``conversation_statistics`` (OpenAPI 2.16 schema, 2.16:27584): its 22 fields besides
    ``type``, identical in 2.13–2.16 (2.12 and 2.13 added the last four); durations in seconds,
    times as UNIX seconds, ``last_closed_by_id`` a string."""

    time_to_assignment: int | None = None
    time_to_admin_reply: int | None = None
    time_to_first_close: int | None = None
    time_to_last_close: int | None = None
    median_time_to_reply: int | None = None
    first_contact_reply_at: Unix | None = None
    first_assignment_at: Unix | None = None
    first_admin_reply_at: Unix | None = None
    first_close_at: Unix | None = None
    last_assignment_at: Unix | None = None
    last_assignment_admin_reply_at: Unix | None = None
    last_contact_reply_at: Unix | None = None
    last_admin_reply_at: Unix | None = None
    last_close_at: Unix | None = None
    last_closed_by_id: Id | None = None
    count_reopens: int | None = None
    count_assignments: int | None = None
    count_conversation_parts: int | None = None
    assigned_team_first_response_time: TeamResponseTimes = Field(default_factory=list)
    assigned_team_first_response_time_in_office_hours: TeamResponseTimes = Field(
        default_factory=list
    )
    handling_time: int | None = None
    adjusted_handling_time: int | None = None


# Fin's resolution_state changed names in 2.15 (OpenAPI 2.14:15261 vs 2.15:15894): the rows
# carry the 2.15+ names whatever version was asked. The spec states no mapping; the pairs are
# those the names say (routed_to_team is an escalation to a team, abandoned ended without
# resolution: the 2.15 enum's negative_feedback), and 2.14 has no procedure_handoff.
RESOLUTION_STATE_2_15 = {"routed_to_team": "escalated", "abandoned": "negative_feedback"}


def _resolution_state(value: Any) -> Any:
    return RESOLUTION_STATE_2_15.get(value, value) if isinstance(value, str) else value


class ContentSource(Model):
    content_type: str | None = None
    url: str | None = None
    title: str | None = None
    locale: str | None = None


class ContentSources(Model):
    content_sources: list[ContentSource] = Field(default_factory=list)


class AiAgent(Model):
    """Fin's part in a conversation (``ai_agent``, since 2.11; OpenAPI 2.16:23116)."""

    source_type: str | None = None
    source_title: str | None = None
    last_answer_type: str | None = None
    resolution_state: Annotated[str | None, BeforeValidator(_resolution_state)] = None
    rating: int | None = None
    rating_remark: str | None = None
    content_sources: Annotated[ContentSources, BeforeValidator(empty_if_null)] = Field(
        default_factory=ContentSources
    )


class Rating(Model):
    rating: int | None = None
    remark: str | None = None


class SlaApplied(Model):
    sla_name: str | None = None
    sla_status: str | None = None


class ConversationPart(Part):
    """A ``conversation_part``."""


class PartList(Record):
    conversation_parts: list[ConversationPart] = Field(default_factory=list)
    total_count: int | None = None


class Conversation(Record):
    id: PlainId
    created_at: Unix
    updated_at: Unix
    title: str | None = None
    state: str | None = None
    open: bool | None = None
    read: bool | None = None
    priority: str | None = None
    admin_assignee_id: AssigneeId = None
    team_assignee_id: AssigneeId = None
    waiting_since: Unix | None = None
    snoozed_until: Unix | None = None
    source: Source | None = None
    contacts: ContactRefs = Field(default_factory=ContactRefList)
    tags: Annotated[TagList, BeforeValidator(empty_if_null)] = Field(default_factory=TagList)
    statistics: Statistics | None = None
    conversation_rating: Rating | None = None
    sla_applied: SlaApplied | None = None
    ai_agent_participated: bool | None = None
    ai_agent: AiAgent | None = None
    custom_attributes: Attributes = Field(default_factory=dict)
    conversation_parts: PartList | None = None

    @property
    def contact_ids(self) -> list[str]:
        """Every contact on the conversation, in API order, without repeats."""
        return self.contacts.ids


def parts_incomplete(returned: int, total_count: int | None, statistics_count: int | None) -> bool:
    """Fewer parts came back than either count says, or exactly the 500 the API returns at most
    (``total_count`` is undocumented; ../shared/docs/intercom-api.md, airbytehq/airbyte#39463)."""
    counts = [c for c in (total_count, statistics_count) if c is not None]
    return returned >= MAX_RETURNED_PARTS or any(returned < c for c in counts)


def parts_columns(parts: FetchedParts | None, statistics_count: int | None) -> dict[str, Any]:
    """``parts_total_count`` and ``parts_truncated`` of a row (null when parts were not
    fetched): shared by every searched object with parts."""
    if parts is None:
        return {"parts_total_count": None, "parts_truncated": None}
    count = parts.statistics_count if parts.statistics_count is not None else statistics_count
    return {
        "parts_total_count": parts.total_count,
        "parts_truncated": parts_incomplete(len(parts.parts), parts.total_count, count),
    }


CONVERSATIONS = Table(
    "conversations",
    schema_of(
        ("conversation_id", STR, False),
        ("created_at", TS, False),
        ("updated_at", TS, False),
        ("title", STR),
        ("state", STR),
        ("priority", STR),
        ("open", BOOL),
        ("read", BOOL),
        ("admin_assignee_id", STR),
        ("team_assignee_id", STR),
        ("waiting_since", TS),
        ("snoozed_until", TS),
        ("source_type", STR),
        ("source_delivered_as", STR),
        ("source_subject", STR),
        ("source_author_type", STR),
        ("source_author_id", STR),
        ("tag_names", STRS),
        ("contact_ids", STRS),
        ("contact_id", STR),
        *contact_columns(),
        ("enrichment_status", STR, False),
        ("time_to_assignment", INT),
        ("time_to_admin_reply", INT),
        ("time_to_first_close", INT),
        ("median_time_to_reply", INT),
        ("count_reopens", INT),
        ("count_assignments", INT),
        ("count_conversation_parts", INT),
        ("first_admin_reply_at", TS),
        ("last_close_at", TS),
        ("time_to_last_close", INT),
        ("first_contact_reply_at", TS),
        ("first_assignment_at", TS),
        ("first_close_at", TS),
        ("last_assignment_at", TS),
        ("last_assignment_admin_reply_at", TS),
        ("last_contact_reply_at", TS),
        ("last_admin_reply_at", TS),
        ("last_closed_by_id", STR),
        ("assigned_team_first_response_time", TEAM_TIMES),
        ("assigned_team_first_response_time_in_office_hours", TEAM_TIMES),
        ("handling_time", INT),
        ("adjusted_handling_time", INT),
        ("rating", INT),
        ("rating_remark", STR),
        ("sla_name", STR),
        ("sla_status", STR),
        ("ai_agent_participated", BOOL),
        ("ai_agent_source_type", STR),
        ("ai_agent_source_title", STR),
        ("ai_agent_last_answer_type", STR),
        ("ai_agent_resolution_state", STR),
        ("ai_agent_rating", INT),
        ("ai_agent_rating_remark", STR),
        ("ai_agent_content_source_ids", STRS),
        ("custom_attributes", STR),
        ("parts_total_count", INT),
        ("parts_truncated", BOOL),
        *LINEAGE,
    ),
    key=("conversation_id",),
    day="updated_at",
    personal=(
        *CONTACT_COLUMNS_PERSONAL,
        "title",
        "source_subject",
        "rating_remark",
        "ai_agent_rating_remark",
    ),
    free_form=("custom_attributes", *CONTACT_COLUMNS_FREE_FORM),
)

CONVERSATION_PARTS = Table(
    "conversation_parts",
    schema_of(
        ("conversation_id", STR, False),
        *PART_COLUMNS,
        *LINEAGE,
    ),
    key=("conversation_id", "part_id"),
    day="parent",
    parent="conversations",
    personal=PART_PERSONAL,
)


def conversation_row(conv: Conversation, ctx: RowContext) -> dict[str, Any]:
    stats, rating, sla = conv.statistics, conv.conversation_rating, conv.sla_applied
    source = conv.source
    author = source.author if source else None
    contact_ids = conv.contact_ids
    return {
        "conversation_id": conv.id,
        "created_at": utc(conv.created_at),
        "updated_at": utc(conv.updated_at),
        "title": conv.title,
        "state": conv.state,
        "priority": conv.priority,
        "open": conv.open,
        "read": conv.read,
        "admin_assignee_id": conv.admin_assignee_id,
        "team_assignee_id": conv.team_assignee_id,
        "waiting_since": utc(conv.waiting_since),
        "snoozed_until": utc(conv.snoozed_until),
        "source_type": source.type if source else None,
        "source_delivered_as": source.delivered_as if source else None,
        "source_subject": source.subject if source else None,
        "source_author_type": author.type if author else None,
        "source_author_id": author.id if author else None,
        "tag_names": [t.name for t in conv.tags.tags if t.name],
        "contact_ids": contact_ids,
        "contact_id": contact_ids[0] if contact_ids else None,
        **prefixed(ctx.contact),
        "enrichment_status": ctx.status.value,
        "time_to_assignment": stats.time_to_assignment if stats else None,
        "time_to_admin_reply": stats.time_to_admin_reply if stats else None,
        "time_to_first_close": stats.time_to_first_close if stats else None,
        "median_time_to_reply": stats.median_time_to_reply if stats else None,
        "count_reopens": stats.count_reopens if stats else None,
        "count_assignments": stats.count_assignments if stats else None,
        "count_conversation_parts": stats.count_conversation_parts if stats else None,
        "first_admin_reply_at": utc(stats.first_admin_reply_at) if stats else None,
        "last_close_at": utc(stats.last_close_at) if stats else None,
        **_statistics(stats),
        "rating": rating.rating if rating else None,
        "rating_remark": rating.remark if rating else None,
        "sla_name": sla.sla_name if sla else None,
        "sla_status": sla.sla_status if sla else None,
        "ai_agent_participated": conv.ai_agent_participated,
        **_fin(conv.ai_agent),
        "custom_attributes": json_text(conv.custom_attributes),
        **parts_columns(ctx.parts, stats.count_conversation_parts if stats else None),
        **ctx.lineage.columns(),
    }


def _statistics(stats: Statistics | None) -> dict[str, Any]:
    """The statistics beyond the first nine (``conversation_row`` has those inline)."""
    if stats is None:
        return dict.fromkeys(_LATER_STATISTICS)

    def teams(items: list[TeamResponseTime]) -> list[dict[str, Any]]:
        return [i.model_dump() for i in items]

    return {
        "time_to_last_close": stats.time_to_last_close,
        "first_contact_reply_at": utc(stats.first_contact_reply_at),
        "first_assignment_at": utc(stats.first_assignment_at),
        "first_close_at": utc(stats.first_close_at),
        "last_assignment_at": utc(stats.last_assignment_at),
        "last_assignment_admin_reply_at": utc(stats.last_assignment_admin_reply_at),
        "last_contact_reply_at": utc(stats.last_contact_reply_at),
        "last_admin_reply_at": utc(stats.last_admin_reply_at),
        "last_closed_by_id": stats.last_closed_by_id,
        "assigned_team_first_response_time": teams(stats.assigned_team_first_response_time),
        "assigned_team_first_response_time_in_office_hours": teams(
            stats.assigned_team_first_response_time_in_office_hours
        ),
        "handling_time": stats.handling_time,
        "adjusted_handling_time": stats.adjusted_handling_time,
    }


_LATER_STATISTICS = (
    "time_to_last_close",
    "first_contact_reply_at",
    "first_assignment_at",
    "first_close_at",
    "last_assignment_at",
    "last_assignment_admin_reply_at",
    "last_contact_reply_at",
    "last_admin_reply_at",
    "last_closed_by_id",
    "assigned_team_first_response_time",
    "assigned_team_first_response_time_in_office_hours",
    "handling_time",
    "adjusted_handling_time",
)
_FIN_COLUMNS = (
    "ai_agent_source_type",
    "ai_agent_source_title",
    "ai_agent_last_answer_type",
    "ai_agent_resolution_state",
    "ai_agent_rating",
    "ai_agent_rating_remark",
    "ai_agent_content_source_ids",
)


def _fin(agent: AiAgent | None) -> dict[str, Any]:
    """Fin's columns; ``ai_agent_resolution_state`` in the 2.15+ names."""
    if agent is None:
        return dict.fromkeys(_FIN_COLUMNS)
    sources = agent.content_sources.content_sources
    return {
        "ai_agent_source_type": agent.source_type,
        "ai_agent_source_title": agent.source_title,
        "ai_agent_last_answer_type": agent.last_answer_type,
        "ai_agent_resolution_state": agent.resolution_state,
        "ai_agent_rating": agent.rating,
        "ai_agent_rating_remark": agent.rating_remark,
        # a content source has no id: its url (an article's path) identifies it
        "ai_agent_content_source_ids": [s.url for s in sources if s.url],
    }


def part_rows(conv_id: str, parts: Sequence[Any], lineage: Lineage) -> list[dict[str, Any]]:
    lineage_cols = lineage.columns()
    return [{"conversation_id": conv_id, **part_fields(part), **lineage_cols} for part in parts]


def read_parts(raw: dict[str, Any]) -> FetchedParts:
    """The parts of ``GET /conversations/{id}``; a ``statistics.count_conversation_parts`` that
    does not validate is left out (the parts still count)."""
    parts = PartList.model_validate(raw.get("conversation_parts") or {})
    try:
        count = Statistics.model_validate(raw.get("statistics") or {}).count_conversation_parts
    except ValueError:
        count = None
    return FetchedParts(parts.conversation_parts, parts.total_count, count)


CONVERSATION = SearchedObject(
    kind="conversation",
    table=CONVERSATIONS,
    parts=CONVERSATION_PARTS,
    search=Endpoint("conversations.search", "/conversations/search"),
    list_key="conversations",
    get=Endpoint("conversations.get", "/conversations/{id}", {"display_as": "plaintext"}),
    model=Conversation,
    read_parts=read_parts,
    deleted="deleted_conversations",
    row=conversation_row,
    part_rows=part_rows,
    current=CurrentState(
        CONVERSATIONS,
        added=(("admin_assignee_name", STR), ("team_assignee_name", STR)),
        parts=CONVERSATION_PARTS,
        parts_version="conversation_updated_at",
        marts=(
            *(Mart(name) for name in ("support_daily", "admin_daily", "team_daily", "tag_daily")),
            Mart("closed_by_daily"),
            # a conversation counts for each company of its primary contact
            Mart(
                "company_daily", names=("company_name", "current_companies", "company_id", "name")
            ),
        ),
    ),
    # The contract's names (docs/data-contract.md), older than tickets: unprefixed where the
    # generic names would say conversations_status_… and conversation_parts_….
    metrics=MetricNames(
        listed="conversations_listed",
        written="conversations_written",
        quarantined="conversations_quarantined",
        deleted="conversations_deleted",
        status="status_",
        parts_written="parts_written",
        parts_fetch_failed="parts_fetch_failed",
        parts_quarantined="parts_quarantined",
        parts_incomplete="parts_incomplete",
    ),
)
