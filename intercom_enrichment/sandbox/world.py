"""Deterministic, lazily generated Intercom data.

Nothing is materialised: conversation ``i`` and contact ``j`` are generated on demand from
``(seed, i)`` / ``(seed, j)``, so a world of 200,000 conversations costs nothing to build.
Conversation ``i`` has ``updated_at = start + (i * span) // N``: non-decreasing in ``i``, so
a time range of the search API maps to an index range by arithmetic alone. Tickets
(tickets.py), companies (companies.py) and deleted conversations (deletions.py) hang off it.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import random
from collections.abc import Sequence
from typing import Any, Literal

from .companies import Companies
from .config import DEFAULT_API_VERSION, SandboxConfig
from .conversation_records import build_conversation, build_parts
from .deletions import Deletions, delete_conversation
from .records import (
    EMBEDDED_LIST_MAX,
    ConversationPlan,
    Identity,
    build_contact,
    build_segments,
    is_v216,
)
from .tickets import Tickets
from .timeline import HexIds, NumberIds, Timeline, coprime_at_least
from .updates import ConversationUpdates, admin_by_id, update_conversation
from .vocab import ADMINS, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES

ContactStatus = Literal["active", "deleted", "merged", "unsearchable"]

CONVERSATION_ID_BASE = 100_000_000
MAX_RETURNED_PARTS = 500
"""GET /conversations/{id} returns at most this many (the most recent) parts."""


class World:
    """The sandbox's data set: `config.conversations` conversations, `config.contacts` contacts."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._n = config.conversations
        self._c = config.contacts
        self._start = config.start_ts
        self.timeline = Timeline(config.start_ts, config.end_ts - config.start_ts, self._n)
        self._conversation_ids = NumberIds(CONVERSATION_ID_BASE, self._n)
        self._contact_ids = HexIds(f"{config.seed & 0xFFFFFFFF:08x}", self._c)
        self._contacts_by_update: list[tuple[int, int]] | None = None
        # Popularity rank -> contact index is an affine bijection, so popular contacts are
        # spread over the index space rather than being contacts 0, 1, 2...
        self._rank_step = coprime_at_least(self._c, 2_654_435_761 % max(self._c, 1))
        self._rank_shift = int(self.unit("rank-shift", 0) * max(self._c, 1))
        self.updates = ConversationUpdates()  # conversations moved forward in time (updates.py)
        self.deletions = Deletions(config, self.timeline)  # deleted conversations
        self.companies = Companies(config)
        self.tickets = Tickets(self)

    @property
    def conversation_count(self) -> int:
        return self._n

    @property
    def contact_count(self) -> int:
        return self._c

    # -- randomness -------------------------------------------------------------------------

    def rng(self, stream: str, index: int) -> random.Random:
        return random.Random(f"{self.config.seed}:{stream}:{index}")

    def unit(self, stream: str, index: int) -> float:
        """A uniform float in [0, 1) determined by (seed, stream, index); cheaper than an RNG."""
        key = f"{self.config.seed}:{stream}:{index}".encode()
        digest = hashlib.blake2b(key, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    # -- conversations: ids and time arithmetic ----------------------------------------------

    def updated_at(self, i: int) -> int:
        """`updated_at` of conversation `i`: non-decreasing in `i`."""
        return self.timeline.at(i)

    def first_index_at_or_after(self, ts: int) -> int:
        """The smallest `i` with ``updated_at(i) >= ts`` (`conversation_count` if none)."""
        return self.timeline.first_index_at_or_after(ts)

    def index_range(self, lo_ts: int, hi_ts: int) -> range:
        """Indices of the conversations with ``lo_ts <= updated_at < hi_ts``, deleted or not."""
        return self.timeline.index_range(lo_ts, hi_ts)

    def search_indices(self, lo_ts: int, hi_ts: int) -> Sequence[int]:
        """Indices of the conversations with ``lo_ts <= updated_at < hi_ts``, by updated_at,
        counting updated conversations at their new time only, and no deleted one."""
        indices = self.deletions.survivors(self.index_range(lo_ts, hi_ts))
        updates = self.updates.snapshot()
        if not updates:
            return indices
        moved_in = [
            i
            for i, u in updates.items()
            if lo_ts <= u.updated_at < hi_ts and not self.deletions.is_deleted(i)
        ]
        kept = [i for i in indices if i not in updates]
        return sorted(kept + moved_in, key=lambda i: (self.plan(i).updated_at, i))

    def update_conversation(
        self, conv_id: str, updated_at: int, **changes: str | None
    ) -> dict[str, Any]:
        """Move a conversation forward in time: a later ``updated_at`` and, optionally, a new
        ``state``, ``admin_assignee_id``, ``team_assignee_id`` (None unassigns). Returns the
        conversation as it is served from now on."""
        return update_conversation(self, conv_id, updated_at, changes)

    def delete_conversation(
        self, conv_id: str, deleted_at: int | None = None, metrics_retained: bool | None = None
    ) -> dict[str, Any]:
        """Delete a conversation while the server runs: from now on it is in no search, GET
        answers 404, and GET /conversations/deleted lists it. `deleted_at` defaults to now (at
        least its ``updated_at``), `metrics_retained` to a seeded coin. Returns the item as
        GET /conversations/deleted lists it."""
        return delete_conversation(self, conv_id, deleted_at, metrics_retained)

    def conversation_id(self, i: int) -> str:
        return self._conversation_ids.id(i)

    def conversation_index(self, conv_id: str) -> int | None:
        """Index of the conversation with this id, or None if there is none (or it is deleted)."""
        i = self._conversation_ids.index(conv_id)
        return None if i is None or self.deletions.is_deleted(i) else i

    # -- contacts ---------------------------------------------------------------------------

    def contact_id(self, j: int) -> str:
        """24 lowercase hex characters: the seed, then `j`."""
        return self._contact_ids.id(j)

    def contact_index(self, contact_id: str) -> int | None:
        """Index of the contact with this id, or None if there is none."""
        return self._contact_ids.index(contact_id)

    def contact_status(self, j: int) -> ContactStatus:
        """Whether contact `j` is active, deleted, merged or active-but-unsearchable."""
        cfg = self.config
        u = self.unit("contact-status", j)
        if u < cfg.deleted_contact_share:
            return "deleted"
        u -= cfg.deleted_contact_share
        if u < cfg.merged_contact_share:
            return "merged"
        u -= cfg.merged_contact_share
        if u < cfg.unsearchable_contact_share:
            return "unsearchable"
        return "active"

    def contacts_updated(self, lo_ts: int, hi_ts: int) -> list[int]:
        """Indices of the searchable contacts with ``lo_ts <= updated_at < hi_ts``, by
        ``updated_at`` (then index). Every contact is built once, on the first call."""
        if self._contacts_by_update is None:
            active = (j for j in range(self._c) if self.contact_status(j) == "active")
            self._contacts_by_update = sorted((self.contact(j)["updated_at"], j) for j in active)
        pairs = self._contacts_by_update
        start = bisect.bisect_left(pairs, (lo_ts, -1))
        stop = bisect.bisect_left(pairs, (hi_ts, -1))
        return [j for _, j in pairs[start:stop]]

    def canonical_contact(self, j: int) -> int | None:
        """For a merged contact: the active contact it was merged into (None if none exists)."""
        start = int(self.unit("canonical", j) * self._c)
        for step in range(self._c):
            k = (start + step) % self._c
            if k != j and self.contact_status(k) == "active":
                return k
        return None

    def identity(self, j: int) -> Identity:
        """The few fields of contact `j` that conversations repeat (id, name, email...)."""
        rng = self.rng("identity", j)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace("'", "")
        return Identity(
            id=self.contact_id(j),
            external_id=str(10_000 + j) if rng.random() < 0.7 else None,
            name=f"{first} {last}",
            email=f"{local}.{j}@{rng.choice(EMAIL_DOMAINS)}",
            role="lead" if rng.random() < 0.2 else "user",
        )

    def contact(
        self, j: int, version: str = DEFAULT_API_VERSION, *, full_lists: bool = False
    ) -> dict[str, Any]:
        """Contact `j` as GET /contacts/{id} returns it, whatever its status: tags and companies
        cut to 10 with `has_more` (`full_lists`: uncut, for /contacts/{id}/tags, /companies)."""
        self._check_contact(j)
        return build_contact(
            self.identity(j),
            self.rng("contact", j),
            self._start,
            is_v216(version),
            many_share=self.config.many_tags_share,
            embed_limit=None if full_lists else EMBEDDED_LIST_MAX,
            company_ids=self.companies.ids_for,
        )

    def segments(self, j: int) -> list[dict[str, Any]]:
        """The segments contact `j` belongs to (0 to 3)."""
        self._check_contact(j)
        return build_segments(self.rng("segments", j), self._start)

    def _check_contact(self, j: int) -> None:
        if not 0 <= j < self._c:
            raise IndexError(f"contact index {j} out of range(0, {self._c})")

    def _pick_contact(self, rng: random.Random) -> int:
        """A contact index drawn from a Zipf-like law with exponent `contact_skew`."""
        c, a = self._c, 1.0 - self.config.contact_skew
        u = rng.random()
        # Inverse CDF of the density x**-skew on [1, c + 1).
        x = (c + 1) ** u if abs(a) < 1e-9 else (1 + u * ((c + 1) ** a - 1)) ** (1 / a)
        rank = min(max(int(x) - 1, 0), c - 1)
        return (rank * self._rank_step + self._rank_shift) % c

    # -- conversations: content ---------------------------------------------------------------

    def conversation_contacts(self, i: int) -> list[int]:
        """Contact indices of conversation `i`, primary first: none, one, or 2–3 distinct."""
        if self._c == 0:
            return []
        rng = self.rng("conversation-contacts", i)
        u = rng.random()
        if u < self.config.no_contact_share:
            wanted = 0
        elif u < self.config.no_contact_share + self.config.multi_contact_share:
            wanted = min(rng.randint(2, 3), self._c)
        else:
            wanted = 1
        return self.pick_contacts(rng, wanted)

    def pick_contacts(self, rng: random.Random, wanted: int) -> list[int]:
        """`wanted` distinct contact indices (at most all of them), by skewed popularity."""
        chosen: list[int] = []
        for _ in range(min(wanted, self._c)):
            j = self._pick_contact(rng)
            while j in chosen:
                j = (j + 1) % self._c
            chosen.append(j)
        return chosen

    def part_count(self, i: int) -> int:
        """The real number of parts of conversation `i` (GET returns at most 500 of them)."""
        cfg = self.config
        rng = self.rng("part-count", i)
        if rng.random() < cfg.truncated_parts_share:
            return rng.randint(MAX_RETURNED_PARTS, 700)
        return rng.randint(cfg.parts_min, cfg.parts_max)

    def plan(self, i: int) -> ConversationPlan:
        """The facts of conversation `i` that its fields and its parts must agree on."""
        if not 0 <= i < self._n:
            raise IndexError(f"conversation index {i} out of range(0, {self._n})")
        rng = self.rng("conversation-plan", i)
        updated = self.updated_at(i)
        state = rng.choices(("closed", "open", "snoozed"), weights=(60, 30, 10))[0]
        plan = ConversationPlan(
            index=i,
            id=self.conversation_id(i),
            created_at=updated - rng.randint(120, 7 * 86_400),
            updated_at=updated,
            contacts=tuple(self.identity(j) for j in self.conversation_contacts(i)),
            state=state,
            admin=rng.choice(ADMINS) if rng.random() < 0.8 else None,
            part_count=self.part_count(i),
        )
        update = self.updates.get(i)
        if update is not None:
            plan = dataclasses.replace(
                plan,
                updated_at=update.updated_at,
                state=update.state,
                admin=admin_by_id(update.admin_id),
            )
        fallback = ADMINS[int(self.unit("closer", i) * len(ADMINS))]
        return dataclasses.replace(plan, closer=plan.admin or fallback)

    def _apply_team(self, i: int, record: dict[str, Any], version: str) -> dict[str, Any]:
        """The team of an updated conversation (the plan does not hold teams)."""
        update = self.updates.get(i)
        if update is not None:
            unassigned = 0 if is_v216(version) else None  # as build_conversation writes it
            record["team_assignee_id"] = (
                int(update.team_id) if update.team_id is not None else unassigned
            )
        return record

    def _conversation(self, i: int, version: str) -> tuple[ConversationPlan, dict[str, Any]]:
        plan = self.plan(i)
        rng, metrics_rng = self.rng("conversation", i), self.rng("conversation-metrics", i)
        record = build_conversation(plan, rng, version, metrics_rng)
        record["linked_objects"] = self.tickets.conversation_links(i)
        return plan, self._apply_team(i, record, version)

    def conversation(self, i: int, version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
        """Conversation `i` as a search result: the full object without `conversation_parts`."""
        return self._conversation(i, version)[1]

    def conversation_with_parts(self, i: int, version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
        """Conversation `i` as GET /conversations/{id} returns it: at most 500 recent parts."""
        plan, record = self._conversation(i, version)
        parts = build_parts(plan, self.rng("parts", i))
        record["conversation_parts"] = {
            "type": "conversation_part.list",
            "conversation_parts": parts[-MAX_RETURNED_PARTS:],
            "total_count": len(parts),
        }
        return record
