"""Attribute definitions: ``GET /data_attributes`` and ``GET /conversations/attributes``.

They describe the ``custom_attributes`` the sandbox's contacts (records.py), companies
(companies.py) and conversations (conversation_records.py) carry, a few standard attributes,
and one archived custom attribute per model (left out unless ``include_archived=true``).

- ``GET /data_attributes`` (schema ``data_attribute_list`` of ``data_attribute``,
  Intercom-OpenAPI descriptions/2.16): ``model`` contact or company; without it, both. Up to 2.15
  ``model=conversation`` is accepted and a call without ``model`` includes the conversation
  attributes too (descriptions/2.15: "for contacts, companies or conversations"); in 2.16
  ``model=conversation`` is 422 ``parameter_invalid`` "model=conversation is no longer
  supported. Use GET /conversations/attributes instead". Another ``model`` value is 400
  ``parameter_invalid`` (the spec is silent). ``data_type`` is one of the schema's string,
  integer, float, boolean, date: a list attribute is a string with ``options``.
- ``GET /conversations/attributes`` (2.16 only; schema ``conversation_attribute_list`` of
  ``conversation_attribute``): typed by ``data_type`` (``multiline`` for strings, ``options``
  ``{id, label, archived}`` for lists).
"""

from __future__ import annotations

import uuid
from typing import Any

from .config import at_least
from .responses import SearchError

# model -> (name, data_type, options, custom, archived)
_Definition = tuple[str, str, tuple[str, ...], bool, bool]
DEFINITIONS: dict[str, tuple[_Definition, ...]] = {
    "contact": (
        ("name", "string", (), False, False),
        ("email", "string", (), False, False),
        ("last_seen_at", "date", (), False, False),
        ("plan", "string", ("free", "pro", "enterprise"), True, False),
        ("seats", "integer", (), True, False),
        ("beta_tester", "boolean", (), True, False),
        ("mrr_cents", "integer", (), True, False),
        ("account_manager", "string", (), True, False),
        ("legacy_score", "integer", (), True, True),
    ),
    "company": (
        ("name", "string", (), False, False),
        ("company_id", "string", (), False, False),
        ("monthly_spend", "float", (), False, False),
        ("size", "integer", (), False, False),
        ("paid_subscriber", "boolean", (), True, False),
        ("team_mates", "integer", (), True, False),
        ("region", "string", ("EMEA", "AMER", "APAC"), True, False),
        ("old_segment", "string", (), True, True),
    ),
    "conversation": (
        ("issue_type", "list", ("billing", "bug", "question"), True, False),
        ("order_value", "integer", (), True, False),
        ("escalated", "boolean", (), True, False),
        ("legacy_priority", "string", (), True, True),
    ),
}
CONVERSATION_MODEL_GONE = "2.16"


def _data_attribute(model: str, k: int, definition: _Definition, now: int) -> dict[str, Any]:
    name, data_type, options, custom, archived = definition
    record: dict[str, Any] = {"type": "data_attribute"}
    if custom:
        record["id"] = 100 * (1 + list(DEFINITIONS).index(model)) + k
    record |= {
        "model": model,
        "name": name,
        "full_name": f"custom_attributes.{name}" if custom else name,
        "label": name.replace("_", " ").capitalize(),
        "description": f"The {model}'s {name.replace('_', ' ')}",
        "data_type": "string" if data_type == "list" else data_type,
        "api_writable": True,
        "messenger_writable": False,
        "ui_writable": custom,
        "custom": custom,
        "archived": archived,
        "created_at": now - 300 * 86_400,
        "updated_at": now - 30 * 86_400,
    }
    if options:
        record["options"] = list(options)
    if custom:
        record["admin_id"] = "991267600"
    return record


def data_attributes(query: dict[str, str], version: str, now: int) -> dict[str, Any]:
    """``GET /data_attributes``; SearchError(400) for an unknown model, and the 422 of 2.16."""
    model = query.get("model")
    conversation_ok = not at_least(version, CONVERSATION_MODEL_GONE)
    models = ["contact", "company", *(["conversation"] if conversation_ok else [])]
    if model == "conversation" and not conversation_ok:
        message = "model=conversation is no longer supported. Use GET /conversations/attributes"
        raise SearchError("parameter_invalid", f"{message} instead", status=422)
    if model is not None and model not in models:
        raise SearchError("parameter_invalid", f"Unknown model {model!r}")
    archived = query.get("include_archived") == "true"
    return {
        "type": "list",
        "data": [
            _data_attribute(m, k, d, now)
            for m in ([model] if model else models)
            for k, d in enumerate(DEFINITIONS[m])
            if archived or not d[4]
        ],
    }


def conversation_attributes(query: dict[str, str], now: int) -> dict[str, Any]:
    """``GET /conversations/attributes`` (2.16)."""
    archived = query.get("include_archived") == "true"
    data = []
    for k, (name, data_type, options, _, is_archived) in enumerate(DEFINITIONS["conversation"]):
        if is_archived and not archived:
            continue
        record: dict[str, Any] = {
            "type": "conversation_attribute",
            "id": 300 + k,
            "name": name,
            "description": f"The conversation's {name.replace('_', ' ')}",
            "data_type": data_type,
            "required": False,
            "visible_to_team_ids": [],
            "archived": is_archived,
            "created_at": now - 300 * 86_400,
            "updated_at": now - 30 * 86_400,
            "admin_id": "991267600",
        }
        if data_type == "string":
            record["multiline"] = False
        if options:
            record["options"] = [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{o}")),
                    "label": o,
                    "archived": False,
                }
                for o in options
            ]
        data.append(record)
    return {"type": "list", "data": data}
