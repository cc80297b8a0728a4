"""A ticket's parts (schema ``ticket_part`` of Intercom-OpenAPI descriptions/2.16), oldest first.

The first part opens the ticket (``ticket_state_updated_by_admin``, submitted to submitted, as
every example starts); state changes move it between submitted, in_progress and
waiting_on_customer; the ticket's current state is set by the last state change, and a resolved
ticket's last part is the change to its resolved state, at its ``updated_at``: its time to
resolution is that part's ``created_at`` minus the ticket's. Part types: comment, note,
assignment, ticket_state_updated_by_admin, ticket_attribute_updated_by_admin, snoozed.

Fin authors some attribute updates as ``{"type": "bot", ...}`` (schema ``ticket_part_author``).
``previous_ticket_state``/``ticket_state`` are only on state changes, ``updated_attribute_data``
(2.14+) only on attribute updates, ``app_package_code`` (2.13+) only on parts created through
the API, as the schema's descriptions and the examples have them; ``assigned_to`` is null except
on assignments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .config import at_least
from .records import Admin, Identity, admin_ref, user_ref
from .ticket_records import SUBMITTED, TICKET_STATES, TICKET_TYPES, state_by_id
from .vocab import ADMINS, BOT, MESSAGES

TICKET_PART_ID_BASE = 10**13
PART_KINDS = ("user_comment", "admin_comment", "note", "assignment", "attribute", "state")
PART_WEIGHTS = (25, 25, 10, 8, 10, 22)
APP_PACKAGE_SINCE, ATTRIBUTE_DATA_SINCE = "2.13", "2.14"
OPEN_CATEGORIES = ("in_progress", "waiting_on_customer")


@dataclass(frozen=True)
class TicketPlan:
    """Facts about one ticket that its fields and its parts must agree on."""

    index: int
    created_at: int
    updated_at: int
    type_k: int
    contacts: tuple[Identity, ...]
    state_id: str
    admin: Admin | None
    team: int | None
    part_count: int
    snoozed_until: int | None


@dataclass(frozen=True)
class TicketParts:
    parts: list[dict[str, Any]]
    previous_state_id: str | None
    """The state before the most recent change of state, None if it never changed."""


def _state_step(rng: random.Random, current: str) -> str:
    """A state to move an unresolved ticket to: another open category's state."""
    category = rng.choice([c for c in OPEN_CATEGORIES if c != state_by_id(current)[1]])
    return rng.choice([s[0] for s in TICKET_STATES if s[1] == category and not s[4]])


def build_ticket_parts(plan: TicketPlan, rng: random.Random, version: str) -> TicketParts:
    """All `plan.part_count` parts; draws do not depend on `version`."""
    total, span = plan.part_count, plan.updated_at - plan.created_at
    primary = plan.contacts[0] if plan.contacts else None
    custom, _, options = TICKET_TYPES[plan.type_k][5]
    current, previous = SUBMITTED[0], None
    parts: list[dict[str, Any]] = []
    for k in range(total):
        at = plan.created_at + (span * k) // max(total - 1, 1)
        kind = "state" if k == 0 else rng.choices(PART_KINDS, PART_WEIGHTS)[0]
        if k == total - 1 and k > 0:
            kind = "state" if current != plan.state_id else "last"
        if 0 < k < total - 1 and kind == "state" and plan.state_id == SUBMITTED[0]:
            kind = "admin_comment"  # a ticket still submitted never moved
        if (kind == "assignment" and plan.admin is None) or (
            kind == "user_comment" and primary is None
        ):
            kind = "note"
        admin = plan.admin or rng.choice(ADMINS)
        author = admin_ref(admin)
        part: dict[str, Any] = {
            "type": "ticket_part",
            "id": str(TICKET_PART_ID_BASE + plan.index * 10_000 + k),
            "part_type": "comment",
            "body": None,
        }
        extra: dict[str, Any] = {}
        if kind == "state":
            new = SUBMITTED[0] if k == 0 else plan.state_id
            if 0 < k < total - 1:
                new = _state_step(rng, current)
            part["part_type"] = "ticket_state_updated_by_admin"
            part["previous_ticket_state"] = state_by_id(current)[1]
            part["ticket_state"] = state_by_id(new)[1]
            if new != current:
                previous, current = current, new
        elif kind == "last" and plan.snoozed_until is not None:
            part["part_type"] = "snoozed"
        elif kind == "attribute":
            part["part_type"] = "ticket_attribute_updated_by_admin"
            author = admin_ref(BOT) | {"type": "bot"} if rng.random() < 0.5 else author
            value = rng.choice(options) if options else str(rng.randint(1, 500))
            attribute_id = f"{TICKET_TYPES[plan.type_k][0]}2"  # ticket_records._attribute
            extra["updated_attribute_data"] = {
                "attribute": {"type": "attribute", "id": attribute_id, "label": custom},
                "value": {"type": "value", "id": value, "label": value},
            }
        elif kind == "assignment":
            part["part_type"] = "assignment"
        else:
            part["part_type"] = "note" if kind == "note" else "comment"
            part["body"] = f"<p>{rng.choice(MESSAGES)}</p>"
            if kind in ("user_comment", "last") and primary is not None:
                author = user_ref(primary)
        via_api = rng.random() < 0.1
        part.update(
            {
                "created_at": at,
                "updated_at": at,
                "assigned_to": (
                    {"type": "admin", "id": admin[0]} if kind == "assignment" else None
                ),
                "author": author,
                "attachments": [],
                "external_id": None,
                "redacted": False,
            }
        )
        if via_api and at_least(version, APP_PACKAGE_SINCE):
            part["app_package_code"] = "sandbox-integration"
        if extra and at_least(version, ATTRIBUTE_DATA_SINCE):
            part.update(extra)
        parts.append(part)
    return TicketParts(parts, previous)
