"""Tickets: ``config.tickets`` of them, generated from ``(seed, index)`` like conversations.

Ticket ``t`` is updated at ``start + (t * span) // tickets`` over the conversations' window
(timeline.py), so ``POST /tickets/search`` maps a time range to an index range by arithmetic and
is paged exactly like ``POST /conversations/search`` (search.window_search: cursor, boundary,
order and repeated results alike). Its ``id`` is ``200000000 + t`` (conversation ids are
``100000000 + i``: disjoint below 100 million conversations); its ``ticket_id``, the inbox
number, is ``t + 1``. Its contacts are drawn from the sandbox's contacts with the same skewed
popularity as conversations'. About 30% of tickets link to a conversation (an affine bijection,
so the conversation lists the ticket back in its own ``linked_objects``); a deleted
conversation's link is left out.

Shape: schema ``ticket`` of Intercom-OpenAPI descriptions/2.16, search results included (the
``ticket_list`` items are ``ticket`` objects and the 2.16 search example carries
``ticket_parts``): at most the 500 most recent parts, ``total_count`` counting all (schema
``ticket_parts``: "There is a limit of 500 parts"). By version: ``admin_assignee_id`` /
``team_assignee_id`` are strings up to 2.15 (``"0"`` unassigned, as the 2.14/2.15 examples
show) and integers with 0 for unassigned in 2.16; ``previous_ticket_state_id`` is 2.16 only;
``ticket_state`` is an object from 2.12 and the state's category as a string, with
``ticket_state_internal_label``/``_external_label``, in 2.9–2.11; ``category``, ``open``,
``snoozed_until`` and ``linked_objects`` exist from 2.10. An unknown id is 404
``ticket_not_found`` "Ticket not found" (GET /tickets/{id} documents no 404; the other ticket
endpoints answer this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import at_least
from .records import is_v216
from .search import window_search
from .ticket_parts import TicketPlan, build_ticket_parts
from .ticket_records import (
    STATE_OBJECT_SINCE,
    TICKET_STATES,
    TICKET_TYPE_WEIGHTS,
    TICKET_TYPES,
    state_by_id,
    ticket_state,
    ticket_type,
)
from .timeline import NumberIds, Timeline, coprime_at_least
from .vocab import ADMINS, MESSAGES, SUBJECTS, TEAM_IDS

if TYPE_CHECKING:
    from .world import World

TICKET_ID_BASE = 200_000_000
MAX_RETURNED_PARTS = 500
LINK_SHARE = 0.3
FINAL_CATEGORIES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
FINAL_WEIGHTS = (15, 25, 15, 45)
_CONTACTS_WANTED = {"Customer": (1, 1, 1, 2), "Back-office": (0, 1), "Tracker": (0, 1, 2, 3)}


class Tickets:
    """The sandbox's tickets, over a `World`'s contacts and conversations."""

    def __init__(self, world: World) -> None:
        cfg = world.config
        self._world, self._count = world, cfg.ticket_count
        self.timeline = Timeline(cfg.start_ts, cfg.end_ts - cfg.start_ts, self._count)
        self._ids = NumberIds(TICKET_ID_BASE, self._count)
        n = world.conversation_count
        self._linkable = min(self._count, n)  # tickets t < this may link to a conversation
        self._step = coprime_at_least(n, int(n * 0.382) + 1)
        self._shift = cfg.seed % max(n, 1)
        self._inverse = pow(self._step, -1, n) if n > 1 else 0

    @property
    def count(self) -> int:
        return self._count

    def ticket_id(self, t: int) -> str:
        return self._ids.id(t)

    def index(self, ticket_id: str) -> int | None:
        """Index of the ticket with this id, or None if there is none."""
        return self._ids.index(ticket_id)

    # -- links to conversations ------------------------------------------------------------

    def linked_conversation(self, t: int) -> int | None:
        """The conversation ticket `t` links to, if any (deleted or not)."""
        if t >= self._linkable or self._world.unit("ticket-link", t) >= LINK_SHARE:
            return None
        return (t * self._step + self._shift) % self._world.conversation_count

    def linking_ticket(self, i: int) -> int | None:
        """The ticket that links to conversation `i`, if any."""
        n = self._world.conversation_count
        t = ((i - self._shift) * self._inverse) % n if n > 1 else 0
        return t if self.linked_conversation(t) == i else None

    def conversation_links(self, i: int) -> dict[str, Any]:
        """Conversation `i`'s ``linked_objects``: the ticket that links to it, if any."""
        t = self.linking_ticket(i)
        if t is None:
            return linked_objects([])
        category = TICKET_TYPES[self.plan(t).type_k][2]
        return linked_objects([{"type": "ticket", "id": self.ticket_id(t), "category": category}])

    # -- tickets ----------------------------------------------------------------------------

    def plan(self, t: int) -> TicketPlan:
        if not 0 <= t < self._count:
            raise IndexError(f"ticket index {t} out of range(0, {self._count})")
        world, cfg = self._world, self._world.config
        rng = world.rng("ticket-plan", t)
        updated = self.timeline.at(t)
        type_k = rng.choices(range(len(TICKET_TYPES)), TICKET_TYPE_WEIGHTS)[0]
        category = rng.choices(FINAL_CATEGORIES, FINAL_WEIGHTS)[0]
        state = rng.choice([s[0] for s in TICKET_STATES if s[1] == category and not s[4]])
        wanted = rng.choice(_CONTACTS_WANTED[TICKET_TYPES[type_k][2]])
        contacts = tuple(world.identity(j) for j in world.pick_contacts(rng, wanted))
        admin = rng.choice(ADMINS) if rng.random() < 0.7 else None
        team = rng.choice(TEAM_IDS) if rng.random() < 0.6 else None
        if rng.random() < cfg.truncated_parts_share:
            parts = rng.randint(MAX_RETURNED_PARTS, 700)
        else:
            parts = rng.randint(cfg.parts_min, cfg.parts_max)
        snoozed = category != "resolved" and rng.random() < 0.15
        return TicketPlan(
            index=t,
            created_at=updated - rng.randint(600, 14 * 86_400),
            updated_at=updated,
            type_k=type_k,
            contacts=contacts,
            state_id=state,
            admin=admin,
            team=team,
            part_count=max(parts, 1 if category == "submitted" else 2),
            snoozed_until=updated + rng.randint(3_600, 3 * 86_400) if snoozed else None,
        )

    def ticket(self, t: int, version: str) -> dict[str, Any]:
        """Ticket `t` as GET /tickets/{id} (and, alike, the search) returns it."""
        plan, world = self.plan(t), self._world
        rng = world.rng("ticket", t)
        _, _, category, _, _, (custom, data_type, options) = TICKET_TYPES[plan.type_k]
        value: Any = rng.choice(options) if options else rng.randint(1, 500)
        if data_type == "decimal":
            value = round(value * 1.25, 2)
        elif data_type == "string":
            value = rng.choice(ADMINS)[1]
        description = f"<p>{rng.choice(MESSAGES)}</p>" if rng.random() < 0.8 else None
        is_shared = category == "Customer" and rng.random() < 0.9
        built = build_ticket_parts(plan, world.rng("ticket-parts", t), version)
        state = state_by_id(plan.state_id)
        v216 = is_v216(version)

        def assignee(value: str | int | None) -> str | int:
            if v216:
                return 0 if value is None else int(value)
            return "0" if value is None else str(value)

        linked = self.linked_conversation(t)
        record: dict[str, Any] = {
            "type": "ticket",
            "id": self.ticket_id(t),
            "ticket_id": str(t + 1),
            "category": category,
            "ticket_attributes": {
                "_default_title_": rng.choice(SUBJECTS),
                "_default_description_": description,
                custom: value,
            },
            "ticket_state": ticket_state(state),
            "ticket_type": ticket_type(plan.type_k, world.config.start_ts, version),
            "contacts": {
                "type": "contact.list",
                "contacts": [
                    {"type": "contact", "id": c.id, "external_id": c.external_id}
                    for c in plan.contacts
                ],
            },
            "admin_assignee_id": assignee(plan.admin[0] if plan.admin else None),
            "team_assignee_id": assignee(plan.team),
            "created_at": plan.created_at,
            "updated_at": plan.updated_at,
            "open": state[1] != "resolved",
            "snoozed_until": plan.snoozed_until,
            "linked_objects": linked_objects(
                [{"type": "conversation", "id": world.conversation_id(linked), "category": None}]
                if linked is not None and not world.deletions.is_deleted(linked)
                else []
            ),
            "ticket_parts": {
                "type": "ticket_part.list",
                "ticket_parts": built.parts[-MAX_RETURNED_PARTS:],
                "total_count": len(built.parts),
            },
            "is_shared": is_shared,
            "previous_ticket_state_id": built.previous_state_id,
        }
        if not v216:
            del record["previous_ticket_state_id"]
        if not at_least(version, STATE_OBJECT_SINCE):
            record["ticket_state"] = state[1]
            record["ticket_state_internal_label"], record["ticket_state_external_label"] = (
                state[2],
                state[3],
            )
        if not at_least(version, "2.10"):
            for field in ("category", "open", "snoozed_until", "linked_objects"):
                del record[field]
        return record

    def search(self, body: Any, version: str) -> dict[str, Any]:
        """The body of POST /tickets/search."""
        return window_search(
            self._world.config,
            body,
            "tickets",
            lambda lo, hi: self.timeline.index_range(lo, hi),
            lambda t: self.ticket(t, version),
        )


def linked_objects(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``linked_object_list`` (all of them: the sandbox links at most one object)."""
    return {"type": "list", "data": items, "total_count": len(items), "has_more": False}
