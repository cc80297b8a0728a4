"""The workspace's ticket types and ticket states, shaped like Intercom's payloads.

Schemas (Intercom-OpenAPI descriptions/<v>/api.intercom.io.yaml): ``ticket_type``,
``ticket_type_attribute``, ``ticket_type_attribute_list``, ``ticket_type_list``,
``ticket_state``, ``ticket_state_detailed``, ``ticket_state_list``. By version:

- ``GET /ticket_types`` (2.9+): ``{"type": "list", "data": [...]}`` from 2.12; before,
  ``{"type": "ticket_type.list", "ticket_types": [...]}`` (2.9–2.11 ``ticket_type_list``).
- ``ticket_type``: ``category`` from 2.10, ``ticket_states`` from 2.12. ``is_internal`` is in
  no response schema but in every example and in the create/update request schemas: served.
- ``ticket_type_attributes``: the schema's ``{"type": "ticket_type_attributes.list",
  "ticket_type_attributes": [...]}``; the examples show ``{"type": "list", "data": [...]}``.
  The schema wins here as for ``contact_attached_companies``.
- ``GET /ticket_states`` (2.12+): ``ticket_state_list`` of ``ticket_state_detailed``, each
  with the ticket types that use it (full ``ticket_type`` objects, as the schema says; the
  example abbreviates them).
"""

from __future__ import annotations

from typing import Any

from .config import at_least

WORKSPACE = "sandbox"
# (id, category, internal label, external label, archived)
TICKET_STATES = (
    ("7001", "submitted", "Submitted", "Submitted", False),
    ("7002", "in_progress", "In progress", "In progress", False),
    ("7003", "in_progress", "With Dev Team", "In progress", False),
    ("7004", "waiting_on_customer", "Waiting on customer", "Awaiting your reply", False),
    ("7005", "resolved", "Resolved", "Resolved", False),
    ("7006", "resolved", "Won't fix", "Closed", False),
    ("7007", "in_progress", "Escalated (retired)", "In progress", True),
)
SUBMITTED = TICKET_STATES[0]
# (id, name, category, icon, description, custom attribute (name, data_type, options))
TICKET_TYPES: tuple[tuple[str, str, str, str, str, tuple[str, str, tuple[str, ...]]], ...] = (
    (
        "101", "Bug report", "Customer", "🐞", "A problem a customer reported",
        ("severity", "list", ("low", "medium", "high")),
    ),
    (
        "102", "Refund request", "Customer", "💸", "A customer asks for money back",
        ("amount", "decimal", ()),
    ),
    (
        "103", "Account review", "Back-office", "🗂️", "An internal check of an account",
        ("reviewer", "string", ()),
    ),
    (
        "104", "Incident", "Tracker", "🚨", "One problem that many customers hit",
        ("affected_customers", "integer", ()),
    ),
)  # fmt: skip
TICKET_TYPE_WEIGHTS = (40, 20, 20, 20)
CATEGORY_SINCE, STATES_SINCE, STATE_OBJECT_SINCE = "2.10", "2.12", "2.12"
_AGE = 400 * 86_400  # the ticket types and states were set up this long before the window


def ticket_state(state: tuple[str, str, str, str, bool]) -> dict[str, Any]:
    """A ``ticket_state`` (as a ticket and a ticket type carry it)."""
    state_id, category, internal, external, _ = state
    return {
        "type": "ticket_state",
        "id": state_id,
        "category": category,
        "internal_label": internal,
        "external_label": external,
    }


def state_by_id(state_id: str) -> tuple[str, str, str, str, bool]:
    return next(s for s in TICKET_STATES if s[0] == state_id)


def _attribute(type_id: str, order: int, name: str, data_type: str, now: int) -> dict[str, Any]:
    default = name.startswith("_default_")
    return {
        "type": "ticket_type_attribute",
        "id": f"{type_id}{order}",
        "workspace_id": WORKSPACE,
        "name": name,
        "description": name.strip("_").replace("_", " "),
        "data_type": data_type,
        "input_options": {"multiline": True} if name == "_default_description_" else None,
        "order": order,
        "required_to_create": name == "_default_title_",
        "required_to_create_for_contacts": False,
        "visible_on_create": True,
        "visible_to_contacts": default,
        "default": default,
        "ticket_type_id": int(type_id),
        "archived": False,
        "created_at": now - _AGE,
        "updated_at": now - _AGE,
    }


def ticket_type(k: int, now: int, version: str) -> dict[str, Any]:
    """Ticket type `k` as `version` serves it."""
    type_id, name, category, icon, description, (custom, data_type, _) = TICKET_TYPES[k]
    attributes = [
        _attribute(type_id, 0, "_default_title_", "string", now),
        _attribute(type_id, 1, "_default_description_", "string", now),
        _attribute(type_id, 2, custom, data_type, now),
    ]
    record: dict[str, Any] = {
        "type": "ticket_type",
        "id": type_id,
        "category": category,
        "name": name,
        "description": description,
        "icon": icon,
        "workspace_id": WORKSPACE,
        "ticket_type_attributes": {
            "type": "ticket_type_attributes.list",
            "ticket_type_attributes": attributes,
        },
        "ticket_states": {
            "type": "list",
            "data": [ticket_state(s) for s in TICKET_STATES if not s[4]],
        },
        "archived": False,
        "is_internal": category != "Customer",
        "created_at": now - _AGE,
        "updated_at": now - _AGE // 2,
    }
    if not at_least(version, STATES_SINCE):
        del record["ticket_states"]
    if not at_least(version, CATEGORY_SINCE):
        del record["category"]
    return record


def ticket_types(now: int, version: str) -> dict[str, Any]:
    """``GET /ticket_types``."""
    data = [ticket_type(k, now, version) for k in range(len(TICKET_TYPES))]
    if at_least(version, "2.12"):
        return {"type": "list", "data": data}
    return {"type": "ticket_type.list", "ticket_types": data}


def ticket_states(now: int, version: str) -> dict[str, Any]:
    """``GET /ticket_states``: every state, archived ones too, with the types that use it."""
    types = [ticket_type(k, now, version) for k in range(len(TICKET_TYPES))]
    return {
        "type": "list",
        "data": [
            {
                **ticket_state(state),
                "archived": state[4],
                "ticket_types": {"type": "list", "data": [] if state[4] else types},
            }
            for state in TICKET_STATES
        ],
    }
