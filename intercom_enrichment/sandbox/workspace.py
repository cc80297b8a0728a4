"""The workspace lists the sandbox serves: teammates, teams, tags, segments, and a contact's full
tag and company lists (shapes of Intercom-OpenAPI descriptions/2.16/api.intercom.io.yaml).

``GET /admins``, ``/teams``, ``/tags`` and ``/segments`` are not paged; ``GET
/contacts/{id}/companies`` is paged by page number (``page``, ``per_page``, ``pages``).
"""

from __future__ import annotations

from typing import Any

from .responses import SearchError
from .vocab import (
    ADMINS,
    CONTACT_TAGS,
    CONVERSATION_TAGS,
    JOB_TITLES,
    SEGMENTS,
    TEAM_IDS,
    TEAM_NAMES,
)

TAG_NAMES: dict[str, str] = dict(CONVERSATION_TAGS + CONTACT_TAGS)
COMPANIES_PER_PAGE = 15  # default per_page of GET /contacts/{id}/companies in the sandbox


def _teams_of(k: int) -> list[int]:
    """Admin k's teams: one or two, fixed."""
    first = TEAM_IDS[k % len(TEAM_IDS)]
    return [first] if k % 3 else [first, TEAM_IDS[(k + 2) % len(TEAM_IDS)]]


def admins() -> dict[str, Any]:
    return {
        "type": "admin.list",
        "admins": [
            {
                "type": "admin",
                "id": admin_id,
                "name": name,
                "email": email,
                "job_title": JOB_TITLES[k % len(JOB_TITLES)],
                "away_mode_enabled": k % 5 == 4,
                "away_mode_reassign": False,
                "has_inbox_seat": True,
                "team_ids": _teams_of(k),
                "avatar": None,
            }
            for k, (admin_id, name, email) in enumerate(ADMINS)
        ],
    }


def teams() -> dict[str, Any]:
    return {
        "type": "team.list",
        "teams": [
            {
                "type": "team",
                "id": str(team_id),
                "name": TEAM_NAMES[t],
                "admin_ids": [
                    int(ADMINS[k][0]) for k in range(len(ADMINS)) if team_id in _teams_of(k)
                ],
            }
            for t, team_id in enumerate(TEAM_IDS)
        ],
    }


def tags() -> dict[str, Any]:
    return {
        "type": "list",
        "data": [{"type": "tag", "id": tid, "name": name} for tid, name in TAG_NAMES.items()],
    }


def segments(now: int) -> dict[str, Any]:
    return {
        "type": "segment.list",
        "segments": [
            {
                "type": "segment",
                "id": sid,
                "name": name,
                "created_at": now - (k + 1) * 30 * 86_400,
                "updated_at": now - (k + 1) * 86_400,
                "person_type": "user",
            }
            for k, (sid, name) in enumerate(SEGMENTS)
        ],
    }


def contact_tags(full_contact: dict[str, Any]) -> dict[str, Any]:
    """``GET /contacts/{id}/tags``: every tag of the contact, with names."""
    refs = full_contact["tags"]["data"]
    return {
        "type": "list",
        "data": [{"type": "tag", "id": r["id"], "name": TAG_NAMES[r["id"]]} for r in refs],
    }


def _positive(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SearchError("parameter_invalid", f"Invalid page parameter {value!r}")
    return int(value)


def contact_companies(
    full_contact: dict[str, Any], page: str | None, per_page: str | None
) -> dict[str, Any]:
    """``GET /contacts/{id}/companies``: the contact's companies, one page of them."""
    refs = full_contact["companies"]["data"]
    number, size = _positive(page, 1), min(_positive(per_page, COMPANIES_PER_PAGE), 150)
    total_pages = max(1, -(-len(refs) // size))
    chunk = refs[(number - 1) * size : number * size]
    return {
        "type": "list",
        "data": [
            {"type": "company", "id": r["id"], "company_id": f"co-{r['id'][:8]}", "name": None}
            for r in chunk
        ],
        "pages": {
            "type": "pages",
            "next": None,
            "page": number,
            "per_page": size,
            "total_pages": total_pages,
        },
        "total_count": len(refs),
    }
