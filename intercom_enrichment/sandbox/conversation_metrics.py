"""A conversation's ``statistics`` and Fin's part in it (``ai_agent``), per API version.

Fields by version (Intercom-OpenAPI descriptions/<v>/api.intercom.io.yaml, schemas
``conversation_statistics`` and ``ai_agent``):

- ``conversation_statistics``: 18 fields and ``type`` up to 2.11; 2.12 adds
  ``assigned_team_first_response_time``; 2.13 adds ``assigned_team_first_response_time_in_
  office_hours``, ``handling_time`` and ``adjusted_handling_time`` (the schema is the same in
  2.13, 2.14, 2.15 and 2.16).
- ``ai_agent`` and ``ai_agent_participated`` (schema ``conversation``) from 2.11; ``ai_agent``'s
  ``created_at``/``updated_at`` from 2.14. ``resolution_state`` is one of assumed_resolution,
  confirmed_resolution, escalated, negative_feedback, procedure_handoff or null from 2.15; up to
  2.14 its enum is assumed_resolution, confirmed_resolution, routed_to_team, abandoned or null.

Each conversation has one outcome whatever version is asked; only its name differs: escalated
is ``routed_to_team`` and negative_feedback ``abandoned`` up to 2.14. The spec has no 2.14 name
for procedure_handoff (Fin handing the conversation to a teammate as a procedure's step): the
sandbox names it ``routed_to_team`` there, the nearest outcome 2.14 can express.

Consistency: a closed conversation was closed ``count_reopens + 1`` times, an open or snoozed
one ``count_reopens`` times; once closed, ``first_close_at <= last_close_at`` (equal when it
was closed once) and ``last_closed_by_id`` is an admin id; a closed one's ``last_close_at`` is
its ``updated_at``. Assignment times precede the first admin reply (``time_to_assignment`` is
the last assignment before it). Statistics are not derived from the parts, except
``count_conversation_parts`` and the closer, who also authors a closed conversation's last part.
Fin's ``resolution_state`` is null exactly when ``last_answer_type`` is (no answer delivered);
its ``created_at``/``updated_at`` (the rating's times) are null when there is no rating.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .config import at_least
from .records import ConversationPlan
from .vocab import TEAM_IDS, TEAM_NAMES

STATISTICS_SINCE = {
    "assigned_team_first_response_time": "2.12",
    "assigned_team_first_response_time_in_office_hours": "2.13",
    "handling_time": "2.13",
    "adjusted_handling_time": "2.13",
}
AI_AGENT_SINCE, AI_AGENT_TIMES_SINCE, RESOLUTION_NAMES_SINCE = "2.11", "2.14", "2.15"
OUTCOMES = (
    "assumed_resolution",
    "confirmed_resolution",
    "escalated",
    "negative_feedback",
    "procedure_handoff",
)
NAMES_UP_TO_2_14 = {
    "escalated": "routed_to_team",
    "negative_feedback": "abandoned",
    "procedure_handoff": "routed_to_team",
}
SOURCE_TYPES = ("workflow", "profile", "essentials_plan_setup", "workflow_preview", "fin_preview")
SOURCE_TITLES = ("Fin answers", "Billing assistant", "Fin for email")
CONTENT_SOURCES = (
    ("article", "/articles/4051-refunds", "How refunds work"),
    ("article", "/articles/4052-sso", "Setting up single sign-on"),
    ("content_snippet", "/fin-ai-agent/content?content=content_snippet&id=3234924", "Plans"),
    ("external_content", "https://docs.example.com/api", "API reference"),
    ("file", "/fin-ai-agent/content?content=file&id=88", "Pricing.pdf"),
)


@dataclass(frozen=True)
class StatisticsDraws:
    """What the conversation's own RNG decides of its statistics (the draws, in their order,
    of the sandbox before the statistics were completed, so other fields keep their values)."""

    reply: int
    assign: int | None
    first_close: int | None
    median: int
    last_contact_reply: int | None
    last_admin_reply: int
    reopens: int
    assignments: int


def draw_statistics(
    plan: ConversationPlan, rng: random.Random, customer_initiated: bool
) -> StatisticsDraws:
    created, updated = plan.created_at, plan.updated_at
    age = updated - created
    reply = rng.randint(1, age)
    assign = rng.randint(0, reply) if plan.admin else None
    first_close = created + rng.randint(reply, age) if plan.state == "closed" else None
    return StatisticsDraws(
        reply=reply,
        assign=assign,
        first_close=first_close,
        median=rng.randint(1, reply),
        last_contact_reply=rng.randint(created, updated) if customer_initiated else None,
        last_admin_reply=rng.randint(created + reply, updated),
        reopens=rng.choice((0, 0, 0, 1, 2)),
        assignments=rng.randint(1, 3) if plan.admin else 0,
    )


def statistics(
    plan: ConversationPlan,
    draws: StatisticsDraws,
    customer_initiated: bool,
    team: int | None,
    rng: random.Random,
    version: str,
) -> dict[str, Any]:
    """``conversation_statistics`` as `version` serves it; `rng` decides what `draws` do not."""
    created, updated, d = plan.created_at, plan.updated_at, draws
    replied_at = created + d.reply
    closed = plan.state == "closed"
    closes = d.reopens + 1 if closed else d.reopens
    last_close = (updated if closed else rng.randint(replied_at, updated)) if closes else None
    first_close = last_close
    if closes > 1 and last_close is not None:
        first_close = min(d.first_close or rng.randint(replied_at, last_close), last_close)
    last_assignment = None if d.assign is None else created + d.assign
    first_assignment = last_assignment
    if last_assignment is not None and d.assignments > 1:
        first_assignment = rng.randint(created, last_assignment)
    handling = updated - last_assignment if closed and last_assignment is not None else None
    response = d.reply - (d.assign or 0)
    in_office_hours = int(response * rng.uniform(0.2, 1.0))
    record: dict[str, Any] = {
        "type": "conversation_statistics",
        "time_to_assignment": d.assign,
        "time_to_admin_reply": d.reply,
        "time_to_first_close": None if first_close is None else first_close - created,
        "time_to_last_close": None if last_close is None else last_close - created,
        "median_time_to_reply": d.median,
        "first_contact_reply_at": created if customer_initiated else None,
        "first_assignment_at": first_assignment,
        "first_admin_reply_at": replied_at,
        "first_close_at": first_close,
        "last_assignment_at": last_assignment,
        "last_assignment_admin_reply_at": replied_at if plan.admin else None,
        "last_contact_reply_at": d.last_contact_reply,
        "last_admin_reply_at": d.last_admin_reply,
        "last_close_at": last_close,
        "last_closed_by_id": plan.closer[0] if closes and plan.closer else None,
        "count_reopens": d.reopens,
        "count_assignments": d.assignments,
        "count_conversation_parts": plan.part_count,
        "assigned_team_first_response_time": _team_times(team, response),
        "assigned_team_first_response_time_in_office_hours": _team_times(team, in_office_hours),
        "handling_time": handling,
        "adjusted_handling_time": (
            None if handling is None else int(handling * rng.uniform(0.3, 1.0))
        ),
    }
    for field, since in STATISTICS_SINCE.items():
        if not at_least(version, since):
            del record[field]
    return record


def _team_times(team: int | None, seconds: int) -> list[dict[str, Any]]:
    """The assigned team's first response time (``conversation_response_time``); none without
    a team (the spec's "Unassigned" team name has no id to go with it)."""
    if team is None:
        return []
    name = TEAM_NAMES[TEAM_IDS.index(team)]
    return [{"team_id": team, "team_name": name, "response_time": seconds}]


def ai_agent(plan: ConversationPlan, rng: random.Random, version: str) -> dict[str, Any]:
    """``ai_agent`` as `version` serves it: the same draws, hence outcome, in every version."""
    source_type = rng.choices(SOURCE_TYPES, (60, 25, 10, 3, 2))[0]
    title = None if source_type == "essentials_plan_setup" else rng.choice(SOURCE_TITLES)
    answer = rng.choices(("ai_answer", "custom_answer", None), (65, 20, 15))[0]
    outcome = None if answer is None else rng.choices(OUTCOMES, (35, 20, 25, 12, 8))[0]
    rating = rng.choice((None, None, 1, 2, 3, 4, 5)) if answer else None
    remark = rng.choice((None, "Very helpful!", "Did not answer my question")) if rating else None
    rated_at = rng.randint(plan.created_at, plan.updated_at) if rating else None
    sources = rng.sample(CONTENT_SOURCES, rng.randint(1, 3)) if answer else []
    if outcome is not None and not at_least(version, RESOLUTION_NAMES_SINCE):
        outcome = NAMES_UP_TO_2_14.get(outcome, outcome)
    record: dict[str, Any] = {
        "source_type": source_type,
        "source_title": title,
        "last_answer_type": answer,
        "resolution_state": outcome,
        "rating": rating,
        "rating_remark": remark,
        "created_at": rated_at,
        "updated_at": rated_at,
        "content_sources": {
            "type": "content_source.list",
            "total_count": len(sources),
            "content_sources": [
                {"content_type": kind, "url": url, "title": name, "locale": "en"}
                for kind, url, name in sources
            ],
        },
    }
    if not at_least(version, AI_AGENT_TIMES_SINCE):
        del record["created_at"], record["updated_at"]
    return record
