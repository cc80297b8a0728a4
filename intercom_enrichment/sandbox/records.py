"""Builders of the JSON objects the sandbox serves, shaped like Intercom's own payloads.

Every builder draws from the RNG it is given in a fixed order that does not depend on the API
version, so the same object differs between versions only in the version-specific fields.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import API_VERSIONS, V216_VERSIONS
from .vocab import (
    ADMINS,
    BROWSERS,
    CONTACT_TAGS,
    LANGUAGES,
    LOCATIONS,
    OPERATING_SYSTEMS,
    SEGMENTS,
)

Admin = tuple[str, str, str]
PRIORITY_LEVELS = ("none", "low", "medium", "high", "urgent")
PART_ID_BASE = 1_000_000_000
DAY = 86_400
EMBEDDED_LIST_MAX = 10
"""A contact record shows at most 10 tags and 10 companies, with `has_more` (2.16 schema)."""
_DEVICE_FIELDS = tuple(
    f"{platform}_{field}"
    for platform in ("android", "ios")
    for field in ("app_name", "app_version", "device", "os_version", "sdk_version", "last_seen_at")
)


def is_v216(version: str) -> bool:
    """Whether `version` uses the 2.16 field formats (2.16, 2.17 and Preview)."""
    if version not in API_VERSIONS:
        raise ValueError(f"unknown Intercom API version {version!r}")
    return version in V216_VERSIONS


@dataclass(frozen=True)
class Identity:
    """The fields of a contact that conversations repeat."""

    id: str
    external_id: str | None
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class ConversationPlan:
    """Facts about one conversation that its fields and its parts must agree on."""

    index: int
    id: str
    created_at: int
    updated_at: int
    contacts: tuple[Identity, ...]
    state: str
    admin: Admin | None
    part_count: int
    closer: Admin | None = None
    """Who closes it (its assignee, else a seeded admin): a close's author, last_closed_by_id."""


def _list(url: str, data: list[dict[str, Any]], limit: int | None = None) -> dict[str, Any]:
    """A list inside a contact: at most `limit` items, `has_more` when some were left out."""
    shown = data if limit is None else data[:limit]
    return {
        "type": "list",
        "data": shown,
        "url": url,
        "total_count": len(data),
        "has_more": len(shown) < len(data),
    }


def _maybe_time(rng: random.Random, low: int, high: int, chance: float) -> int | None:
    return rng.randint(low, max(low, high)) if rng.random() < chance else None


def admin_ref(admin: Admin) -> dict[str, Any]:
    return {"type": "admin", "id": admin[0], "name": admin[1], "email": admin[2]}


def user_ref(contact: Identity) -> dict[str, Any]:
    return {"type": "user", "id": contact.id, "name": contact.name, "email": contact.email}


def _contact_custom_attributes(rng: random.Random) -> dict[str, Any]:
    variant = rng.randrange(4)
    if variant == 0:
        return {}
    attributes: dict[str, Any] = {"plan": rng.choice(("free", "pro", "enterprise"))}
    if variant >= 2:
        attributes["seats"] = rng.randint(1, 250)
        attributes["beta_tester"] = rng.random() < 0.3
    if variant == 3:
        attributes["mrr_cents"] = rng.randint(0, 500_000)
        attributes["account_manager"] = rng.choice((None, "Aoife Byrne", "Bruno Costa"))
    return attributes


def _how_many(rng: random.Random, few: int, many: int, many_share: float) -> int:
    """0..`few` usually; with probability `many_share` more than `EMBEDDED_LIST_MAX` (to `many`)."""
    if rng.random() < many_share:
        return rng.randint(EMBEDDED_LIST_MAX + 1, many)
    return rng.randint(0, few)


def build_contact(
    identity: Identity,
    rng: random.Random,
    now: int,
    v216: bool,
    *,
    many_share: float = 0.0,
    embed_limit: int | None = EMBEDDED_LIST_MAX,
    company_ids: Callable[[list[int]], list[str]],
) -> dict[str, Any]:
    """A contact like contact.v2.16.json; `now` anchors its timestamps. Its tags and companies
    are references without names, cut to `embed_limit` (None: the full lists); `company_ids`
    turns its random draws into ids of the world's companies."""
    cid = identity.id
    created = now - rng.randint(DAY, 3 * 365 * DAY)
    updated = rng.randint(created, now)
    owner = rng.choice(ADMINS)[0] if rng.random() < 0.6 else None
    browser = rng.choice(BROWSERS) if rng.random() < 0.75 else None
    location = rng.choice(LOCATIONS) if rng.random() < 0.8 else (None,) * 5
    tags = rng.sample(CONTACT_TAGS, _how_many(rng, 3, len(CONTACT_TAGS), many_share))
    companies = company_ids([rng.getrandbits(96) for _ in range(_how_many(rng, 3, 13, many_share))])
    return {
        "type": "contact",
        "id": cid,
        "workspace_id": "sandbox",
        "external_id": identity.external_id,
        "role": identity.role,
        "email": identity.email,
        "email_domain": identity.email.rsplit("@", 1)[1],
        "phone": f"+1555{rng.randint(1_000_000, 9_999_999)}" if rng.random() < 0.4 else None,
        "name": identity.name,
        "avatar": None,
        "owner_id": None if owner is None else (owner if v216 else int(owner)),
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": rng.random() < 0.02,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": rng.random() < 0.1,
        "created_at": created,
        "updated_at": updated,
        "signed_up_at": created if identity.role == "user" else None,
        "last_seen_at": _maybe_time(rng, created, updated, 0.8),
        "last_replied_at": _maybe_time(rng, created, updated, 0.5),
        "last_contacted_at": _maybe_time(rng, created, updated, 0.5),
        "last_email_opened_at": _maybe_time(rng, created, updated, 0.3),
        "last_email_clicked_at": None,
        "language_override": rng.choice(LANGUAGES) if rng.random() < 0.15 else None,
        "browser": browser[0] if browser else None,
        "browser_version": browser[1] if browser else None,
        "browser_language": "en" if browser else None,
        "os": rng.choice(OPERATING_SYSTEMS) if browser else None,
        "location": dict(
            zip(
                ("type", "country", "region", "city", "country_code", "continent_code"),
                ("location", *location),
                strict=True,
            )
        ),
        **dict.fromkeys(_DEVICE_FIELDS),
        "custom_attributes": _contact_custom_attributes(rng),
        "tags": _list(
            f"/contacts/{cid}/tags",
            [{"type": "tag", "id": tid, "url": f"/tags/{tid}"} for tid, _ in tags],
            embed_limit,
        ),
        "notes": _list(f"/contacts/{cid}/notes", []),
        "companies": _list(
            f"/contacts/{cid}/companies",
            [{"type": "company", "id": co, "url": f"/companies/{co}"} for co in companies],
            embed_limit,
        ),
        "opted_out_subscription_types": _list(f"/contacts/{cid}/subscriptions", []),
        "opted_in_subscription_types": _list(f"/contacts/{cid}/subscriptions", []),
        **dict.fromkeys(("utm_campaign", "utm_content", "utm_medium", "utm_source", "utm_term")),
        "referrer": None,
        "enabled_push_messaging": None,
    }


def build_segments(rng: random.Random, now: int) -> list[dict[str, Any]]:
    """0 to 3 segments from a fixed pool (a segment's timestamps do not depend on the contact)."""
    chosen = sorted(rng.sample(range(len(SEGMENTS)), rng.choice((0, 1, 1, 2, 3))))
    return [
        {
            "type": "segment",
            "id": SEGMENTS[k][0],
            "name": SEGMENTS[k][1],
            "created_at": now - (k + 1) * 30 * DAY,
            "updated_at": now - (k + 1) * DAY,
            "person_type": "user",
        }
        for k in chosen
    ]
