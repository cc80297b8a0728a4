"""pydantic models of the Intercom objects this project reads.

Tolerant where Intercom's versions differ (see docs/intercom-api.md): ids arrive as
integers or strings and always leave as strings; an unassigned assignee is null (≤2.15) or 0
(2.16); ``priority`` is free text; unknown fields are ignored. Strict where it matters: a
conversation without an id or ``updated_at`` is invalid and is quarantined, not guessed, and so is
a record that breaks ``guards`` (one rule: nesting, non-finite or beyond-int64 numbers, invalid
Unicode, timestamps out of range, ids that are not plain Intercom ids).
"""

import math
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from intercom_enrichment.quality.guards import is_plain_id, timestamp_reason, unwritable_reason


def _id(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("an id cannot be a boolean")
    if isinstance(value, int):
        return str(value)
    return value


def _assignee(value: Any) -> Any:
    """Unassigned is null in ≤2.15 and 0 in 2.16: both mean None."""
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


def _empty_if_null(value: Any) -> Any:
    """``null`` where Intercom usually sends an object or list: treat it as empty."""
    return {} if value is None else value


Id = Annotated[str, BeforeValidator(_id)]
Ids = Annotated[list[Id], BeforeValidator(lambda v: [] if v is None else v)]
Attributes = Annotated[dict[str, Any], BeforeValidator(_empty_if_null)]
AssigneeId = Annotated[str | None, BeforeValidator(_assignee)]
Unix = Annotated[int, BeforeValidator(_unix), AfterValidator(_in_range)]
PlainId = Annotated[str, BeforeValidator(_id), AfterValidator(_plain)]  # ids that enter URLs


class Record(BaseModel):
    """A top-level object of a response: checked whole against ``guards`` before its fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _writable(cls, data: Any) -> Any:
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


class Author(Model):
    type: str | None = None
    id: Id | None = None
    name: str | None = None
    email: str | None = None


class Source(Model):
    type: str | None = None
    delivered_as: str | None = None
    subject: str | None = None
    author: Author | None = None


class Tag(Model):
    id: Id | None = None
    name: str | None = None


class TagList(Model):
    tags: list[Tag] = Field(default_factory=list)


class Statistics(Model):
    time_to_assignment: int | None = None
    time_to_admin_reply: int | None = None
    time_to_first_close: int | None = None
    median_time_to_reply: int | None = None
    first_admin_reply_at: Unix | None = None
    last_close_at: Unix | None = None
    count_reopens: int | None = None
    count_assignments: int | None = None
    count_conversation_parts: int | None = None


class Rating(Model):
    rating: int | None = None
    remark: str | None = None


class SlaApplied(Model):
    sla_name: str | None = None
    sla_status: str | None = None


class ConversationPart(Model):
    id: Id
    part_type: str | None = None
    body: str | None = None
    created_at: Unix | None = None
    updated_at: Unix | None = None
    author: Author | None = None
    assigned_to: Ref | None = None
    redacted: bool | None = None


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
    contacts: Annotated[ContactRefList, BeforeValidator(_empty_if_null)] = Field(
        default_factory=ContactRefList
    )
    tags: Annotated[TagList, BeforeValidator(_empty_if_null)] = Field(default_factory=TagList)
    statistics: Statistics | None = None
    conversation_rating: Rating | None = None
    sla_applied: SlaApplied | None = None
    ai_agent_participated: bool | None = None
    custom_attributes: Attributes = Field(default_factory=dict)
    conversation_parts: PartList | None = None

    @property
    def contact_ids(self) -> list[str]:
        """Every contact on the conversation, in API order, without repeats."""
        return list(dict.fromkeys(ref.id for ref in self.contacts.contacts))


class Location(Model):
    country: str | None = None
    region: str | None = None
    city: str | None = None
    country_code: str | None = None
    continent_code: str | None = None


class RefList(Model):
    """A contact's ``tags`` / ``companies``: references ``{type, id, url}`` without names, at most
    10 of them, with ``has_more`` when there are more (Intercom-OpenAPI descriptions/2.16,
    contact schema; names come from GET /tags, full lists from GET /contacts/{id}/tags and
    /companies). A ``name``, where a server sends one, is kept as a fallback."""

    data: list[Tag] = Field(default_factory=list)
    has_more: bool | None = None
    total_count: int | None = None

    @property
    def ids(self) -> list[str]:
        return list(dict.fromkeys(item.id for item in self.data if item.id))

    @property
    def cut(self) -> bool:
        """Whether the list says it is incomplete."""
        more = bool(self.has_more) or (self.total_count or 0) > len(self.data)
        return more


class Contact(Record):
    id: PlainId
    external_id: Id | None = None
    role: str | None = None
    email: str | None = None
    email_domain: str | None = None
    phone: str | None = None
    name: str | None = None
    owner_id: AssigneeId = None
    created_at: Unix | None = None
    updated_at: Unix | None = None
    signed_up_at: Unix | None = None
    last_seen_at: Unix | None = None
    last_replied_at: Unix | None = None
    last_contacted_at: Unix | None = None
    browser: str | None = None
    os: str | None = None
    language_override: str | None = None
    location: Location | None = None
    custom_attributes: Attributes = Field(default_factory=dict)
    tags: Annotated[RefList, BeforeValidator(_empty_if_null)] = Field(default_factory=RefList)
    companies: Annotated[RefList, BeforeValidator(_empty_if_null)] = Field(default_factory=RefList)


class Segment(Record):
    id: Id
    name: str | None = None
    person_type: str | None = None


class Admin(Model):
    """An item of GET /admins (``admin.list``)."""

    id: Id
    name: str | None = None
    email: str | None = None
    job_title: str | None = None
    away_mode_enabled: bool | None = None
    team_ids: Ids = Field(default_factory=list)


class Team(Model):
    """An item of GET /teams (``team.list``)."""

    id: Id
    name: str | None = None
    admin_ids: Ids = Field(default_factory=list)


class NextPage(Model):
    starting_after: str | None = None


class Pages(Model):
    next: NextPage | None = None


class ConversationPage(Model):
    """One page of ``POST /conversations/search``; items stay raw until validated one by one.
    The list is required: a page without one is not a page (never an empty one)."""

    LIST_KEY: ClassVar[str] = "conversations"
    conversations: list[dict[str, Any]]
    total_count: int | None = None
    pages: Pages | None = None

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.conversations

    @property
    def next_cursor(self) -> str | None:
        return self.pages.next.starting_after if self.pages and self.pages.next else None


class ContactPage(Model):
    """One page of ``POST /contacts/search``; the list is required, as for conversations."""

    LIST_KEY: ClassVar[str] = "data"
    data: list[dict[str, Any]]
    total_count: int | None = None
    pages: Pages | None = None

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.data

    @property
    def next_cursor(self) -> str | None:
        return self.pages.next.starting_after if self.pages and self.pages.next else None
