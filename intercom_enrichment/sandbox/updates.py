"""Conversations that move forward in time: a later ``updated_at``, a new state or assignee.

The generated world is fixed (conversation ``i`` is a function of the seed), so a test or a
demo that needs a conversation updated *between two windows* records an update here: from
then on the conversation is served with the later ``updated_at`` and the changed fields, is
found by searches over its new time (and no longer over its old one), and its parts end in
its new state. Set through ``World.update_conversation`` in-process, or over HTTP:

    POST /sandbox/conversations/{id}/update   (same bearer token as the API)
    {"updated_at": 1759320000, "state": "closed", "admin_assignee_id": "991267601",
     "team_assignee_id": "5017691"}              (omitted fields keep their value; null
                                                  unassigns)

Not an Intercom endpoint: it is not rate limited and not counted in the sandbox's stats.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .vocab import ADMINS, TEAM_IDS

if TYPE_CHECKING:
    from .world import World

STATES = ("open", "closed", "snoozed")
CONTROL_PATH = "/sandbox/conversations/{conversation_id}/update"


@dataclass(frozen=True)
class ConversationUpdate:
    updated_at: int
    state: str
    admin_id: str | None
    team_id: str | None


class ConversationUpdates:
    """Thread-safe registry of updates, by conversation index (the server's threads share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_index: dict[int, ConversationUpdate] = {}

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._by_index)

    def get(self, index: int) -> ConversationUpdate | None:
        with self._lock:
            return self._by_index.get(index)

    def set(self, index: int, update: ConversationUpdate) -> None:
        with self._lock:
            self._by_index[index] = update

    def snapshot(self) -> dict[int, ConversationUpdate]:
        with self._lock:
            return dict(self._by_index)


def admin_by_id(admin_id: str | None) -> tuple[str, str, str] | None:
    if admin_id is None:
        return None
    for admin in ADMINS:
        if admin[0] == admin_id:
            return admin
    raise ValueError(f"unknown admin id {admin_id!r}; the sandbox's admins are {ADMINS[0][0]}…")


def check_update(update: ConversationUpdate, current_updated_at: int) -> None:
    if update.updated_at <= current_updated_at:
        raise ValueError("updated_at must be later than the conversation's current updated_at")
    if update.state not in STATES:
        raise ValueError(f"state must be one of {STATES}")
    admin_by_id(update.admin_id)
    if update.team_id is not None and int(update.team_id) not in TEAM_IDS:
        raise ValueError(f"unknown team id {update.team_id!r}; the sandbox's teams: {TEAM_IDS}")


def update_conversation(
    world: World, conv_id: str, updated_at: int, changes: dict[str, str | None]
) -> dict[str, Any]:
    """`World.update_conversation`: record the update, return the conversation as served."""
    i = world.conversation_index(conv_id)
    if i is None:
        raise ValueError(f"no conversation {conv_id!r}")
    current = world.conversation(i)
    unknown = set(changes) - {"state", "admin_assignee_id", "team_assignee_id"}
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")

    def assignee(key: str) -> str | None:
        value = changes[key] if key in changes else current[key]
        return None if value in (None, 0, "0") else str(value)

    update = ConversationUpdate(
        updated_at=updated_at,
        state=str(changes.get("state") or current["state"]),
        admin_id=assignee("admin_assignee_id"),
        team_id=assignee("team_assignee_id"),
    )
    check_update(update, current["updated_at"])
    world.updates.set(i, update)
    return world.conversation(i)


def control_route(world: World, token: str) -> Route:
    """The HTTP control endpoint over ``world``."""

    async def update(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            body: Any = json.loads(await request.body())
            if not isinstance(body, dict) or type(body.get("updated_at")) is not int:
                raise ValueError("body must be an object with an integer updated_at")
            changes = {
                key: body[key]
                for key in ("state", "admin_assignee_id", "team_assignee_id")
                if key in body
            }
            for key, value in changes.items():
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{key} must be a string or null")
            record = world.update_conversation(
                request.path_params["conversation_id"], body["updated_at"], **changes
            )
        except (ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(record)

    return Route(CONTROL_PATH, update, methods=["POST"], name="sandbox.update")
