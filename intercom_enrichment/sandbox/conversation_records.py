"""Builders of conversation and conversation-part objects, shaped like Intercom's payloads.

Draws from the given RNG happen in an order independent of the API version: versions differ
only in `priority`, in how an unassigned `admin_assignee_id`/`team_assignee_id` is written, and
in the statistics and Fin fields each version has (conversation_metrics.py).
"""

from __future__ import annotations

import random
from typing import Any

from .config import at_least
from .conversation_metrics import (
    AI_AGENT_SINCE,
    StatisticsDraws,
    ai_agent,
    draw_statistics,
    statistics,
)
from .records import (
    PART_ID_BASE,
    PRIORITY_LEVELS,
    Admin,
    ConversationPlan,
    Identity,
    admin_ref,
    is_v216,
    user_ref,
)
from .vocab import (
    ADMINS,
    BOT,
    CONVERSATION_TAGS,
    MESSAGES,
    SLA_NAMES,
    SLA_STATUSES,
    SUBJECTS,
    TEAM_IDS,
    TOPICS,
)

PART_KINDS = ("user_comment", "admin_comment", "note", "assignment", "close", "open", "attribute")
PART_WEIGHTS = (30, 30, 10, 10, 8, 6, 6)


def _priority(level: str, v216: bool) -> str:
    if v216:
        return level
    return "not_priority" if level == "none" else "priority"


def _custom_attributes(rng: random.Random) -> dict[str, Any]:
    variant = rng.randrange(3)
    if variant == 0:
        return {}
    attributes: dict[str, Any] = {"issue_type": rng.choice(("billing", "bug", "question"))}
    if variant == 2:
        attributes["order_value"] = rng.randint(5, 5_000)
        attributes["escalated"] = rng.random() < 0.2
    return attributes


def build_conversation(
    plan: ConversationPlan, rng: random.Random, version: str, metrics_rng: random.Random
) -> dict[str, Any]:
    """A conversation like the items of conversation_search_response.v2.16.json; `metrics_rng`
    completes its statistics and Fin's part (conversation_metrics.py)."""
    v216 = is_v216(version)
    primary = plan.contacts[0] if plan.contacts else None
    customer_initiated = primary is not None and rng.random() < 0.75
    sender = plan.admin or rng.choice(ADMINS)
    channel = rng.choice(("conversation", "email"))
    unassigned = 0 if v216 else None
    team = rng.choice(TEAM_IDS) if rng.random() < 0.7 else None
    tags = rng.sample(CONVERSATION_TAGS, rng.choice((0, 0, 1, 1, 2)))
    rated = primary is not None and plan.state == "closed" and rng.random() < 0.25
    with_ai = rng.random() < 0.2
    record = {
        "type": "conversation",
        "id": plan.id,
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
        "waiting_since": (
            rng.randint(plan.created_at, plan.updated_at)
            if plan.state == "open" and rng.random() < 0.6
            else None
        ),
        "snoozed_until": (
            plan.updated_at + rng.randint(3_600, 3 * 86_400) if plan.state == "snoozed" else None
        ),
        "source": {
            "type": channel,
            "id": str(400_000_000 + plan.index),
            "delivered_as": (
                "customer_initiated"
                if customer_initiated
                else rng.choice(("admin_initiated", "automated"))
            ),
            "subject": rng.choice(SUBJECTS) if channel == "email" else "",
            "body": f"<p>{rng.choice(MESSAGES)}</p>",
            "author": user_ref(primary) if primary and customer_initiated else admin_ref(sender),
            "attachments": [],
            "url": None,
            "redacted": False,
        },
        "contacts": {
            "type": "contact.list",
            "contacts": [
                {"type": "contact", "id": c.id, "external_id": c.external_id} for c in plan.contacts
            ],
        },
        "first_contact_reply": (
            {"created_at": plan.created_at, "type": channel, "url": None}
            if customer_initiated
            else None
        ),
        "admin_assignee_id": int(plan.admin[0]) if plan.admin else unassigned,
        "team_assignee_id": team if team is not None else unassigned,
        "open": plan.state != "closed",
        "state": plan.state,
        "read": rng.random() < 0.7,
        "tags": {
            "type": "tag.list",
            "tags": [
                {
                    "type": "tag",
                    "id": tag_id,
                    "name": name,
                    "applied_at": plan.created_at,
                    "applied_by": {"type": "admin", "id": sender[0]},
                }
                for tag_id, name in tags
            ],
        },
        "priority": _priority(rng.choices(PRIORITY_LEVELS, (70, 8, 10, 8, 4))[0], v216),
        "sla_applied": (
            {
                "type": "conversation_sla_summary",
                "sla_name": rng.choice(SLA_NAMES),
                "sla_status": rng.choice(SLA_STATUSES),
            }
            if rng.random() < 0.3
            else None
        ),
        "statistics": (
            None if rng.random() < 0.15 else draw_statistics(plan, rng, customer_initiated)
        ),
        "conversation_rating": (
            {
                "rating": rng.randint(1, 5),
                "remark": rng.choice((None, "Quick and helpful", "Took too long")),
                "created_at": plan.updated_at,
                "contact": {
                    "type": "contact",
                    "id": primary.id,
                    "external_id": primary.external_id,
                },
                "teammate": {"type": "admin", "id": sender[0]},
            }
            if rated and primary
            else None
        ),
        "teammates": (
            {"type": "admin.list", "admins": [{"type": "admin", "id": plan.admin[0]}]}
            if plan.admin
            else None
        ),
        "title": rng.choice(SUBJECTS) if rng.random() < 0.3 else None,
        "custom_attributes": _custom_attributes(rng),
        "topics": _topics(rng),
        "ticket": None,
        "linked_objects": None,  # set by the world: tickets link to conversations
        "ai_agent": None,
        "ai_agent_participated": with_ai,
    }
    draws = record["statistics"]
    if isinstance(draws, StatisticsDraws):
        record["statistics"] = statistics(
            plan, draws, customer_initiated, team, metrics_rng, version
        )
    if with_ai:
        record["ai_agent"] = ai_agent(plan, metrics_rng, version)
    if not at_least(version, AI_AGENT_SINCE):
        del record["ai_agent"], record["ai_agent_participated"]
    return record


def _topics(rng: random.Random) -> dict[str, Any]:
    if rng.random() >= 0.25:
        return {}
    topic_id, name = rng.choice(TOPICS)
    return {
        "type": "topic.list",
        "topics": [{"type": "topic", "id": topic_id, "name": name}],
        "total_count": 1,
    }


def _next_kind(rng: random.Random, state: str, primary: Identity | None) -> str:
    kind = rng.choices(PART_KINDS, PART_WEIGHTS)[0]
    if kind == "close" and state == "closed":
        return "open"
    if (kind == "open" and state != "closed") or (kind == "user_comment" and primary is None):
        return "admin_comment"
    return kind


def _final_kind(plan: ConversationPlan, primary: Identity | None) -> str:
    if plan.state == "closed":
        return "close"
    if plan.state == "snoozed":
        return "snoozed"
    return "user_comment" if primary else "admin_comment"


def build_parts(plan: ConversationPlan, rng: random.Random) -> list[dict[str, Any]]:
    """All `plan.part_count` parts, oldest first; the last one leaves the conversation's state."""
    primary = plan.contacts[0] if plan.contacts else None
    total = plan.part_count
    span = plan.updated_at - plan.created_at
    state = "open"
    parts: list[dict[str, Any]] = []
    for k in range(total):
        at = plan.created_at + (span * (k + 1)) // total
        kind = _final_kind(plan, primary) if k == total - 1 else _next_kind(rng, state, primary)
        admin: Admin = plan.admin or rng.choice(ADMINS)
        closing = kind == "close" and k == total - 1
        author = admin_ref((plan.closer or admin) if closing else admin)
        body: str | None = None
        assigned_to: dict[str, Any] | None = None
        event_details: dict[str, Any] | None = None
        part_type = kind
        if kind == "user_comment" and primary is not None:
            part_type, author, state = "comment", user_ref(primary), "open"
            body = f"<p>{rng.choice(MESSAGES)}</p>"
        elif kind in ("admin_comment", "note"):
            part_type = "comment" if kind == "admin_comment" else "note"
            body = f"<p>{rng.choice(MESSAGES)}</p>"
        elif kind == "assignment":
            assigned_to = {"type": "admin", "id": admin[0]}
        elif kind == "attribute":
            part_type = "conversation_attribute_updated_by_admin"
            author = admin_ref(BOT)
            event_details = {"attribute": {"name": "issue_type"}, "value": {"name": "billing"}}
        else:  # close, open, snoozed
            state = {"close": "closed", "open": "open", "snoozed": "snoozed"}[kind]
        parts.append(
            {
                "type": "conversation_part",
                "id": str(PART_ID_BASE + plan.index * 10_000 + k),
                "part_type": part_type,
                "body": body,
                "created_at": at,
                "updated_at": at,
                "notified_at": at,
                "assigned_to": assigned_to,
                "author": author,
                "attachments": [],
                "external_id": None,
                "redacted": False,
                "email_message_metadata": None,
                "state": state,
                "tags": [],
                "event_details": event_details,
                "app_package_code": None,
            }
        )
    return parts
