"""The workspace lists the sandbox serves: teammates, teams, tags, segments, and a contact's full
tag list (shapes of Intercom-OpenAPI descriptions/2.16/api.intercom.io.yaml); a contact's
companies: companies.py.

``GET /admins``, ``/teams``, ``/tags`` and ``/segments`` are not paged.
"""

from __future__ import annotations

from typing import Any

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
