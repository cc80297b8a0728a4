"""Intercom objects → flat rows of the contract's tables (ids as strings, times in UTC)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intercom_enrichment.windows import Window

from .models import Contact, Conversation, ConversationPart, Tag
from .schema import CONTACT_FIELDS


@dataclass(frozen=True)
class Lineage:
    window: Window
    extracted_at: datetime

    def columns(self) -> dict[str, datetime]:
        return {
            "window_start": self.window.start,
            "window_end": self.window.end,
            "extracted_at": self.extracted_at,
        }


def utc(unix_seconds: int | None) -> datetime | None:
    return None if unix_seconds is None else datetime.fromtimestamp(unix_seconds, UTC)


def json_text(value: dict[str, Any] | None) -> str | None:
    """Free-form objects as JSON text with sorted keys, so the column type never varies."""
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


CONTACT_DETAIL_COLUMNS = tuple(name for name, _ in CONTACT_FIELDS)
MAX_RETURNED_PARTS = 500  # GET /conversations/{id} returns at most the 500 most recent parts


@dataclass(frozen=True)
class ContactLists:
    """A contact's tags and companies, complete where they could be: ``*_truncated`` says a list
    is still cut (the contact said ``has_more`` and the full list could not be fetched)."""

    tag_ids: list[str]
    tag_names: list[str]
    company_ids: list[str]
    tags_truncated: bool
    companies_truncated: bool

    @classmethod
    def of(
        cls,
        contact: Contact,
        *,
        tag_names: Mapping[str, str],
        full_tags: list[Tag] | None = None,
        full_company_ids: list[str] | None = None,
    ) -> "ContactLists":
        """Tag names through the tag snapshot (``tag_names``: id → name); a name the reference
        itself carries is the fallback; an id with no known name keeps its id, not its name."""
        tags = full_tags if full_tags is not None else contact.tags.data
        ids = list(dict.fromkeys(t.id for t in tags if t.id))
        named = {t.id: t.name for t in tags if t.id and t.name}
        names = [n for n in (tag_names.get(i) or named.get(i) for i in ids) if n]
        companies = full_company_ids if full_company_ids is not None else contact.companies.ids
        return cls(
            tag_ids=ids,
            tag_names=names,
            company_ids=companies,
            tags_truncated=full_tags is None and contact.tags.cut,
            companies_truncated=full_company_ids is None and contact.companies.cut,
        )


def parts_incomplete(returned: int, total_count: int | None, statistics_count: int | None) -> bool:
    """Fewer parts came back than either count says, or exactly the 500 the API returns at most
    (``total_count`` is undocumented; ../shared/docs/intercom-api.md, airbytehq/airbyte#39463)."""
    counts = [c for c in (total_count, statistics_count) if c is not None]
    return returned >= MAX_RETURNED_PARTS or any(returned < c for c in counts)


def contact_details(
    contact: Contact | None,
    segments: list[str] | None = None,
    lists: ContactLists | None = None,
) -> dict[str, Any]:
    """The contact columns shared by both tables (unprefixed names); ``lists`` is given with
    every contact (``ContactLists.of``: tag names need the run's tag map)."""
    if contact is None:
        return dict.fromkeys(CONTACT_DETAIL_COLUMNS)
    assert lists is not None, "a contact's row needs its ContactLists"
    location = contact.location
    return {
        "external_id": contact.external_id,
        "email": contact.email,
        "name": contact.name,
        "phone": contact.phone,
        "role": contact.role,
        "country": location.country if location else None,
        "city": location.city if location else None,
        "created_at": utc(contact.created_at),
        "last_seen_at": utc(contact.last_seen_at),
        "custom_attributes": json_text(contact.custom_attributes),
        "company_ids": lists.company_ids,
        "segment_names": segments,
    }


def contact_row(
    contact: Contact,
    lineage: Lineage,
    segments: list[str] | None,
    lists: ContactLists,
) -> dict[str, Any]:
    location = contact.location
    return {
        "contact_id": contact.id,
        **contact_details(contact, segments, lists),
        "email_domain": contact.email_domain,
        "region": location.region if location else None,
        "country_code": location.country_code if location else None,
        "owner_id": contact.owner_id,
        "updated_at": utc(contact.updated_at),
        "signed_up_at": utc(contact.signed_up_at),
        "last_replied_at": utc(contact.last_replied_at),
        "last_contacted_at": utc(contact.last_contacted_at),
        "browser": contact.browser,
        "os": contact.os,
        "language_override": contact.language_override,
        "tag_names": lists.tag_names,
        "tag_ids": lists.tag_ids,
        "tags_truncated": lists.tags_truncated,
        "companies_truncated": lists.companies_truncated,
        **lineage.columns(),
    }


def conversation_row(
    conv: Conversation,
    *,
    status: str,
    contact: Contact | None,
    lineage: Lineage,
    segments: list[str] | None = None,
    lists: ContactLists | None = None,
    parts_total_count: int | None = None,
    parts_returned: int | None = None,
    parts_statistics_count: int | None = None,
) -> dict[str, Any]:
    stats, rating, sla = conv.statistics, conv.conversation_rating, conv.sla_applied
    source = conv.source
    author = source.author if source else None
    contact_ids = conv.contact_ids
    details = contact_details(contact, segments, lists)
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
        **{f"contact_{name}": value for name, value in details.items()},
        "enrichment_status": status,
        "time_to_assignment": stats.time_to_assignment if stats else None,
        "time_to_admin_reply": stats.time_to_admin_reply if stats else None,
        "time_to_first_close": stats.time_to_first_close if stats else None,
        "median_time_to_reply": stats.median_time_to_reply if stats else None,
        "count_reopens": stats.count_reopens if stats else None,
        "count_assignments": stats.count_assignments if stats else None,
        "count_conversation_parts": stats.count_conversation_parts if stats else None,
        "first_admin_reply_at": utc(stats.first_admin_reply_at) if stats else None,
        "last_close_at": utc(stats.last_close_at) if stats else None,
        "rating": rating.rating if rating else None,
        "rating_remark": rating.remark if rating else None,
        "sla_name": sla.sla_name if sla else None,
        "sla_status": sla.sla_status if sla else None,
        "ai_agent_participated": conv.ai_agent_participated,
        "custom_attributes": json_text(conv.custom_attributes),
        "parts_total_count": parts_total_count,
        "parts_truncated": (
            None
            if parts_returned is None
            else parts_incomplete(
                parts_returned,
                parts_total_count,
                parts_statistics_count
                if parts_statistics_count is not None
                else (stats.count_conversation_parts if stats else None),
            )
        ),
        **lineage.columns(),
    }


def part_rows(
    conv_id: str, parts: list[ConversationPart], lineage: Lineage
) -> list[dict[str, Any]]:
    lineage_cols = lineage.columns()
    return [
        {
            "conversation_id": conv_id,
            "part_id": part.id,
            "part_type": part.part_type,
            "created_at": utc(part.created_at),
            "updated_at": utc(part.updated_at),
            "author_type": part.author.type if part.author else None,
            "author_id": part.author.id if part.author else None,
            "author_name": part.author.name if part.author else None,
            "author_email": part.author.email if part.author else None,
            "body": part.body,
            "assigned_to_type": part.assigned_to.type if part.assigned_to else None,
            "assigned_to_id": part.assigned_to.id if part.assigned_to else None,
            "redacted": part.redacted,
            **lineage_cols,
        }
        for part in parts
    ]
