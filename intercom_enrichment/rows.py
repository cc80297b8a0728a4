"""Intercom objects → flat rows of the contract's tables (ids as strings, times in UTC)."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .models import Contact, Conversation, ConversationPart
from .schema import CONTACT_FIELDS
from .windows import Window


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


def contact_details(contact: Contact | None, segments: list[str] | None = None) -> dict[str, Any]:
    """The contact columns shared by both tables (unprefixed names)."""
    if contact is None:
        return dict.fromkeys(CONTACT_DETAIL_COLUMNS)
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
        "company_ids": [c.id for c in contact.companies.data if c.id] if contact.companies else [],
        "segment_names": segments,
    }


def contact_row(
    contact: Contact, lineage: Lineage, segments: list[str] | None = None
) -> dict[str, Any]:
    location = contact.location
    return {
        "contact_id": contact.id,
        **contact_details(contact, segments),
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
        "tag_names": [t.name for t in contact.tags.data if t.name] if contact.tags else [],
        **lineage.columns(),
    }


def conversation_row(
    conv: Conversation,
    *,
    status: str,
    contact: Contact | None,
    lineage: Lineage,
    segments: list[str] | None = None,
    parts_total_count: int | None = None,
    parts_returned: int | None = None,
) -> dict[str, Any]:
    stats, rating, sla = conv.statistics, conv.conversation_rating, conv.sla_applied
    source = conv.source
    author = source.author if source else None
    contact_ids = conv.contact_ids
    details = contact_details(contact, segments)
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
            if parts_total_count is None or parts_returned is None
            else parts_total_count > parts_returned
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
