"""A second, independent Intercom-compatible server for ``httpx.MockTransport``.

It deliberately differs from the sandbox wherever the API documentation leaves room: results in
descending or scrambled order, strict or inclusive ``>``/``<``, a different cursor format,
optional repeats across pages. The client must get every conversation exactly once from both.

Written from the OpenAPI descriptions, not from the sandbox: merged contacts answer 410 + Link
only from Intercom-Version 2.16 (404 before), an optional IN limit answers 400
``parameter_invalid``, rejected cursors get the documented 400 ``client_error`` "Invalid
starting_after param", and the workspace lists and a contact's full tags/companies are served
from whatever the test puts in.

Beyond conversations and contacts (from descriptions/<v>/api.intercom.io.yaml of
intercom/Intercom-OpenAPI, cited where used), where the spec leaves room:
- tickets share the conversation search (its order, bounds, cursor and repeat options), serve
  at most 50 a page (no maximum is documented) and carry their parts in search results, as the
  example does; a ticket's inbox number ``ticket_id`` differs from its ``id``; assignee ids are
  strings ("0" unassigned, the examples) before 2.16 and integers (0) from 2.16;
- the deleted-conversations list is ordered by ``deleted_at`` (newest first unless
  ``order=asc``), its items leave out the optional ``type``, and ``pages.next`` is a URL;
- a contact's companies are listed under ``companies`` (the schema's key, not the example's
  ``data``), 2 a page;
- objects are stored as 2.16 writes them and rewritten per request version: ticket assignee
  ids, ``previous_ticket_state_id`` (2.16), company ``notes`` (2.16), statistics fields (2.12,
  2.13), the ``ai_agent`` block (2.11), its times (2.14) and resolution_state names (2.15);
- endpoints newer than the request's version answer 400 ``intercom_version_invalid``.
"""

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

FieldReader = Callable[[dict[str, Any], str], Any]  # (item, search field) → value or values
# per_page maxima: conversations 150 (descriptions/2.16 /conversations/search); tickets have
# none documented, so this fake serves at most 50 and says so in pages.per_page.
SEARCH_PAGE_MAX = {"conversations": 150, "tickets": 50}


def api_version(request: httpx.Request) -> tuple[int, int]:
    """The request's Intercom-Version as (major, minor); ``Preview`` is newer than any, and no
    header means 2.14 here (a real workspace applies its app's setting)."""
    raw = request.headers.get("intercom-version", "2.14")
    if raw == "Preview":
        return (99, 0)
    major, _, minor = raw.partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (0, 0)


def listing(data: list[dict[str, Any]]) -> httpx.Response:
    """An unpaged ``{"type": "list", "data": [...]}``."""
    return httpx.Response(200, json={"type": "list", "data": data})


def too_old(request: httpx.Request, since: tuple[int, int]) -> httpx.Response | None:
    """The documented answer to an endpoint newer than the request's version (400
    ``intercom_version_invalid``, GET /conversations/deleted in descriptions/2.16)."""
    if api_version(request) >= since:
        return None
    message = "Requested resource is not available in current API version."
    return error(400, "intercom_version_invalid", message)


def _unarchived(request: httpx.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``include_archived`` (default false) of the attribute listings."""
    if request.url.params.get("include_archived") == "true":
        return items
    return [i for i in items if not i.get("archived")]


def _text(value: Any) -> str:
    """Search values compare as text: ids are strings in search, integers in some objects."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _top_level(item: dict[str, Any], name: str) -> Any:
    if name not in item:
        raise NotImplementedError(f"the fake cannot search on {name!r}")
    return item[name]


def _ticket_field(item: dict[str, Any], name: str) -> Any:
    """A ticket search field: most are the object's own keys; these live elsewhere in it.
    ``state`` is read as ``ticket_state.category`` (the spec does not say which)."""
    attributes = item.get("ticket_attributes") or {}
    elsewhere: dict[str, Callable[[], Any]] = {
        "title": lambda: attributes.get("_default_title_"),
        "description": lambda: attributes.get("_default_description_"),
        "category": lambda: SEARCH_CATEGORY.get(item["category"]),
        "ticket_type_id": lambda: item["ticket_type"]["id"],
        "contact_ids": lambda: [c["id"] for c in item["contacts"]["contacts"]],
        "state": lambda: item["ticket_state"]["category"],
    }
    return elsewhere[name]() if name in elsewhere else _top_level(item, name)


def numbered_page(
    request: httpx.Request,
    items: list[dict[str, Any]],
    kind: tuple[str, str],
    per_page: int,
    keep: dict[str, Any] | None = None,
) -> httpx.Response:
    """Page-number pagination (``pages_link``): ``?page=n``; ``pages.next`` is the URL of the
    next page (with ``keep``'s parameters), left out on the last one. ``kind``: the list's
    ``type`` and key."""
    page = max(int(request.url.params.get("page", "1")), 1)
    total_pages = -(-len(items) // per_page)
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
    }
    if page < total_pages:
        pages["next"] = str(request.url.copy_merge_params({**(keep or {}), "page": page + 1}))
    body = {
        "type": kind[0],
        kind[1]: items[(page - 1) * per_page : page * per_page],
        "total_count": len(items),
        "pages": pages,
    }
    return httpx.Response(200, json=body)


def conversation(
    conv_id: int,
    updated_at: int,
    contact_ids: list[str],
    *,
    statistics: dict[str, Any] | None = None,
    ai_agent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A conversation; ``statistics`` (see ``conversation_statistics``) and ``ai_agent`` (see
    ``fin_ai_agent``, 2.15+ names) only when given. The fake rewrites both for the request's
    version."""
    body = {
        "type": "conversation",
        "id": str(conv_id),
        "created_at": updated_at - 100,
        "updated_at": updated_at,
        "state": "open",
        "open": True,
        "read": False,
        "priority": "not_priority",
        "admin_assignee_id": None,
        "team_assignee_id": 0,
        "contacts": {
            "type": "contact.list",
            "contacts": [{"type": "contact", "id": c, "external_id": None} for c in contact_ids],
        },
        "tags": {"type": "tag.list", "tags": []},
        "custom_attributes": {"b": 2, "a": 1},
    }
    if statistics is not None:
        body["statistics"] = statistics
    if ai_agent is not None:
        body["ai_agent"] = ai_agent
        body["ai_agent_participated"] = True
    return body


# The version that added each statistics field the 2.7 schema lacks (2.12, 2.13; 2.13–2.16 agree).
STATISTICS_SINCE = {
    "assigned_team_first_response_time": (2, 12),
    "assigned_team_first_response_time_in_office_hours": (2, 13),
    "handling_time": (2, 13),
    "adjusted_handling_time": (2, 13),
}
# ai_agent.resolution_state: 2.15+ values → 2.11–2.14 values. The spec lists the enums, not
# the mapping; procedure_handoff has no 2.14 value, and this fake writes routed_to_team.
RESOLUTION_BEFORE_2_15 = {
    "escalated": "routed_to_team",
    "negative_feedback": "abandoned",
    "procedure_handoff": "routed_to_team",
}
RESOLUTION_STATES = {"assumed_resolution", "confirmed_resolution", *RESOLUTION_BEFORE_2_15}


def conversation_statistics(start: int = 1_700_000_000, **values: Any) -> dict[str, Any]:
    """Every field of ``conversation_statistics`` (the type and 22 more), times from ``start``;
    ``values`` replace fields by name (an unknown name is an error)."""
    team = [{"team_id": 5, "team_name": "Support", "response_time": 300}]
    stats: dict[str, Any] = {
        "type": "conversation_statistics",
        "time_to_assignment": 60,
        "time_to_admin_reply": 300,
        "time_to_first_close": 900,
        "time_to_last_close": 1800,
        "median_time_to_reply": 240,
        "first_contact_reply_at": start,
        "first_assignment_at": start + 60,
        "first_admin_reply_at": start + 300,
        "first_close_at": start + 900,
        "last_assignment_at": start + 1000,
        "last_assignment_admin_reply_at": start + 1100,
        "last_contact_reply_at": start + 1200,
        "last_admin_reply_at": start + 1300,
        "last_close_at": start + 1800,
        "last_closed_by_id": "991",
        "count_reopens": 1,
        "count_assignments": 2,
        "count_conversation_parts": 7,
        "assigned_team_first_response_time": team,
        "assigned_team_first_response_time_in_office_hours": [{**team[0], "response_time": 120}],
        "handling_time": 1500,
        "adjusted_handling_time": 1200,
    }
    unknown = set(values) - set(stats)
    if unknown:
        raise TypeError(f"not conversation_statistics fields: {sorted(unknown)}")
    return {**stats, **values}


def fin_ai_agent(
    resolution_state: str | None = "assumed_resolution",
    *,
    last_answer_type: str | None = "ai_answer",
    rating: int | None = 4,
    created_at: int | None = 1_700_000_600,
) -> dict[str, Any]:
    """An ``ai_agent`` block with a 2.15+ ``resolution_state`` (or None)."""
    if resolution_state is not None and resolution_state not in RESOLUTION_STATES:
        raise ValueError(f"not a 2.15+ resolution_state: {resolution_state}")
    source = {
        "content_type": "article",
        "url": "/fin-ai-agent/content?content=article&id=1",
        "title": "Fake article",
        "locale": "en",
    }
    return {
        "source_type": "workflow",
        "source_title": "Fake workflow",
        "last_answer_type": last_answer_type,
        "resolution_state": resolution_state,
        "rating": rating,
        "rating_remark": "Helpful" if rating else None,
        "created_at": created_at,
        "updated_at": created_at,
        "content_sources": {
            "type": "content_source.list",
            "total_count": 1,
            "content_sources": [source],
        },
    }


def as_of(conv: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
    """A conversation as ``version`` writes it: statistics fields and the ai_agent block (2.11),
    its created_at/updated_at (2.14) and resolution_state names (2.15) only where they exist."""
    body = dict(conv)
    if isinstance(conv.get("statistics"), dict):
        body["statistics"] = {
            k: v
            for k, v in conv["statistics"].items()
            if version >= STATISTICS_SINCE.get(k, (0, 0))
        }
    agent = conv.get("ai_agent")
    if version < (2, 11):
        body.pop("ai_agent", None)
        body.pop("ai_agent_participated", None)
    elif isinstance(agent, dict):
        agent = dict(agent)
        if version < (2, 15):
            state = agent["resolution_state"]
            agent["resolution_state"] = RESOLUTION_BEFORE_2_15.get(state, state)
        if version < (2, 14):
            agent.pop("created_at", None)
            agent.pop("updated_at", None)
        body["ai_agent"] = agent
    return body


def contact(contact_id: str) -> dict[str, Any]:
    return {
        "type": "contact",
        "id": contact_id,
        "role": "user",
        "email": f"{contact_id}@example.com",
        "name": f"Name {contact_id}",
        "owner_id": 12,
        "created_at": 1_700_000_000,
        "location": {"type": "location", "country": "Ireland", "city": "Dublin"},
        "custom_attributes": {"plan": "pro"},
        "companies": {"type": "list", "data": [{"type": "company", "id": "co1"}]},
    }


# category → (id, internal_label, external_label): the labels of GET /ticket_states' example
# (descriptions/2.16), the ids this fake's own.
TICKET_STATES = {
    "submitted": ("7001", "Submitted", "Submitted"),
    "in_progress": ("7002", "In progress", "In progress"),
    "waiting_on_customer": ("7003", "Waiting on customer", "Waiting on you"),
    "resolved": ("7004", "Resolved", "Resolved"),
}
# A ticket's category and the term that searches for it (the /tickets/search description).
SEARCH_CATEGORY = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}
TICKET_PARTS_MAX = 500


def ticket_state(category: str) -> dict[str, Any]:
    state_id, internal, external = TICKET_STATES[category]
    return {
        "type": "ticket_state",
        "id": state_id,
        "category": category,
        "internal_label": internal,
        "external_label": external,
    }


def ticket_type(type_id: str, name: str, category: str = "Customer") -> dict[str, Any]:
    """A ``ticket_type``; its attributes are listed as the examples do (``{type: list, data}``),
    not as the schema says (``ticket_type_attributes.list`` / ``ticket_type_attributes``)."""
    return {
        "type": "ticket_type",
        "id": type_id,
        "category": category,
        "name": name,
        "description": f"{name} tickets",
        "icon": "\N{LADY BEETLE}",
        "workspace_id": "fakews01",
        "archived": False,
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_000,
        "is_internal": False,
        "ticket_type_attributes": {"type": "list", "data": []},
    }


def ticket_part(
    part_id: int,
    created_at: int,
    *,
    body: str | None = None,
    ticket_state: str | None = None,
    previous_ticket_state: str | None = None,
    part_type: str | None = None,
    author_type: str = "admin",
) -> dict[str, Any]:
    """A comment, or with ``ticket_state`` a state change (``previous_ticket_state`` defaults to
    the new state, as the examples' first part shows ``submitted`` → ``submitted``)."""
    part: dict[str, Any] = {
        "type": "ticket_part",
        "id": str(part_id),
        "part_type": part_type or ("ticket_state_updated_by_admin" if ticket_state else "comment"),
        "created_at": created_at,
        "updated_at": created_at,
        "author": {
            "type": author_type,
            "id": "991",
            "name": f"Fake {author_type}",
            "email": f"{author_type}@example.com",
        },
        "attachments": [],
        "redacted": False,
    }
    if ticket_state is None:
        part["body"] = body if body is not None else f"<p>Part {part_id}</p>"
    else:
        part["ticket_state"] = ticket_state
        part["previous_ticket_state"] = previous_ticket_state or ticket_state
    return part


def ticket(
    api_id: int,
    updated_at: int,
    contact_ids: list[str],
    *,
    state: str = "submitted",
    category: str = "Customer",
    title: str = "",
    admin_assignee_id: int = 0,
    team_assignee_id: int = 0,
    type_id: str = "1",
    parts: list[dict[str, Any]] | None = None,
    ticket_id: int | None = None,
) -> dict[str, Any]:
    """A ``ticket`` as 2.16 writes it (integer assignee ids, 0 = unassigned,
    ``previous_ticket_state_id`` from the latest state-change part); the fake rewrites it for
    the request's version. ``ticket_id`` (the inbox number, "do not use ticket_id for API
    queries") differs from ``id`` unless given."""
    parts = sorted(parts or [], key=lambda p: p["created_at"])
    changes = [p for p in parts if "previous_ticket_state" in p]
    previous = TICKET_STATES[changes[-1]["previous_ticket_state"]][0] if changes else None
    return {
        "type": "ticket",
        "id": str(api_id),
        "ticket_id": str(api_id + 5000 if ticket_id is None else ticket_id),
        "category": category,
        "ticket_attributes": {"_default_title_": title, "_default_description_": None},
        "ticket_state": ticket_state(state),
        "ticket_type": ticket_type(type_id, f"Type {type_id}", category),
        "contacts": {
            "type": "contact.list",
            "contacts": [{"type": "contact", "id": c, "external_id": None} for c in contact_ids],
        },
        "admin_assignee_id": admin_assignee_id,
        "team_assignee_id": team_assignee_id,
        "created_at": updated_at - 100,
        "updated_at": updated_at,
        "open": state != "resolved",
        "snoozed_until": None,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ticket_parts": {
            "type": "ticket_part.list",
            "ticket_parts": parts,
            "total_count": len(parts),
        },
        "is_shared": category == "Customer",
        "previous_ticket_state_id": previous,
    }


def company(
    api_id: str,
    *,
    company_id: str | None = None,
    name: str | None = None,
    custom_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``company``: ``id`` is Intercom's, ``company_id`` the workspace's own. Custom attributes
    keep their JSON types, as the examples show (the schema says strings). ``notes`` is served
    from 2.16 only."""
    return {
        "type": "company",
        "id": api_id,
        "company_id": company_id or f"own-{api_id}",
        "app_id": "fakews01",
        "name": name or f"Company {api_id}",
        "remote_created_at": 1_690_000_000,
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_500,
        "last_request_at": 1_700_000_400,
        "size": 12,
        "website": f"https://{api_id}.example.com",
        "industry": "Software",
        "monthly_spend": 155,
        "session_count": 3,
        "user_count": 2,
        "plan": {"type": "plan", "id": "269315", "name": "Pro"},
        "custom_attributes": custom_attributes if custom_attributes is not None else {"seats": 9},
        "tags": {"type": "tag.list", "tags": []},
        "segments": {"type": "segment.list", "segments": []},
        "notes": {"type": "note.list", "notes": []},
    }


def data_attribute(
    name: str, model: str = "contact", *, data_type: str = "string", custom: bool = False
) -> dict[str, Any]:
    """A ``data_attribute``; a custom one has an integer ``id``, ``admin_id`` and a dotted
    ``full_name``. ``model="conversation"`` is served by versions before 2.16 only."""
    attribute: dict[str, Any] = {
        "type": "data_attribute",
        "model": model,
        "name": name,
        "full_name": f"custom_attributes.{name}" if custom else name,
        "label": name.replace("_", " ").title(),
        "description": f"The {name}",
        "data_type": data_type,
        "api_writable": custom,
        "messenger_writable": False,
        "ui_writable": True,
        "custom": custom,
        "archived": False,
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_000,
    }
    if custom:
        attribute = {"id": 12_000 + len(name), **attribute, "admin_id": "16"}
    return attribute


def conversation_attribute(
    attr_id: int, name: str, data_type: str = "string", *, options: list[str] | None = None
) -> dict[str, Any]:
    """A ``conversation_attribute`` (2.16): integer ``id``; a string one says ``multiline``, a
    list one has ``options`` ``{id (a UUID), label, archived}``."""
    attribute: dict[str, Any] = {
        "type": "conversation_attribute",
        "id": attr_id,
        "name": name,
        "description": "",
        "data_type": data_type,
        "required": False,
        "visible_to_team_ids": [],
        "archived": False,
        "created_at": 1_700_000_000,
        "updated_at": 1_700_000_000,
        "admin_id": "16",
    }
    if data_type == "string":
        attribute["multiline"] = False
    if data_type == "list":
        attribute["options"] = [
            {"id": f"00000000-0000-4000-8000-{attr_id:06d}{k:06d}", "label": o, "archived": False}
            for k, o in enumerate(options or [])
        ]
    return attribute


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {
        "type": "error.list",
        "request_id": "req-1",
        "errors": [{"code": code, "message": message}],
    }
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class FakeIntercom:
    conversations: list[dict[str, Any]]
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    boundary: str = "strict"  # or "inclusive"
    order: str = "descending"  # or "scrambled", "ascending"
    duplicate_across_pages: bool = False
    total_count: bool = True  # search pages say how many results there are (optional)
    searches: list[dict[str, Any]] = field(default_factory=list)  # conversation search bodies
    unsearchable: set[str] = field(default_factory=set)  # contacts only GET finds
    token: str = "fake-token"
    requests: list[str] = field(default_factory=list)
    fail_next: list[httpx.Response] = field(default_factory=list)  # served before anything else
    merged: dict[str, str] = field(default_factory=dict)  # merged id → canonical id
    in_limit: int | None = None  # most ids one IN search takes
    reject_cursors: int = 0  # the next n page requests with a cursor get the cursor error
    contact_tags: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # full lists
    contact_companies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # GET /contacts/{id}/companies: the schema (contact_attached_companies, 2.14–2.16) names the
    # list "companies"; the spec's example shows "data".
    company_list_key: str = "companies"
    workspace: dict[str, dict[str, Any]] = field(default_factory=dict)  # "/admins" → body
    full_conversations: dict[str, dict[str, Any]] = field(default_factory=dict)  # GET by id
    # id → (deleted_at, metrics_retained); gone from search and GET, listed by
    # GET /conversations/deleted (2.16+). See delete().
    deleted: dict[str, tuple[int, bool]] = field(default_factory=dict)
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)  # GET /companies/{id}
    # POST /companies/list (None: not offered, 404), `company_list_per_page` a page; its
    # `total_count` is `company_list_total` when set (a workspace over the 10,000 the list shows)
    company_list: list[dict[str, Any]] | None = None
    company_list_per_page: int = 3
    company_list_total: int | None = None
    data_attributes: list[dict[str, Any]] = field(default_factory=list)  # every model
    conversation_attributes: list[dict[str, Any]] = field(default_factory=list)  # 2.16+
    tickets: list[dict[str, Any]] = field(default_factory=list)  # search and GET, 2.16 form
    ticket_types: list[dict[str, Any]] = field(default_factory=list)
    ticket_states: list[dict[str, Any]] = field(
        default_factory=lambda: [ticket_state(c) for c in TICKET_STATES]
    )
    # 403 to every ticket route: "scope" (a token without the tickets scope) or "plan".
    tickets_forbidden: Literal["scope", "plan"] | None = None
    # ticket_parts.total_count (its meaning is undocumented): every part, or those returned
    ticket_parts_total: Literal["all", "returned"] = "all"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def delete(self, conv_id: str, deleted_at: int, metrics_retained: bool = True) -> None:
        self.deleted[conv_id] = (deleted_at, metrics_retained)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return error(401, "unauthorized", "Access Token Invalid")
        if self.fail_next:
            return self.fail_next.pop(0)
        path = request.url.path
        if path == "/conversations/search":
            version = api_version(request)
            alive = [as_of(c, version) for c in self.conversations if c["id"] not in self.deleted]
            body = json.loads(request.content)
            self.searches.append(body)
            return self._search(body, alive, "conversations", _top_level)
        if path == "/conversations/deleted":
            return too_old(request, (2, 16)) or self._deleted(request)
        if path == "/contacts/search":
            ids = json.loads(request.content)["query"]["value"]
            if self.in_limit is not None and len(ids) > self.in_limit:
                return error(400, "parameter_invalid", "Too many values for IN")
            data = [
                self.contacts[i] for i in ids if i in self.contacts and i not in self.unsearchable
            ]
            return httpx.Response(
                200, json={"type": "list", "data": data, "total_count": len(data)}
            )
        if path in self.workspace:
            return httpx.Response(200, json=self.workspace[path])
        if path == "/data_attributes":
            return self._data_attributes(request)
        if path == "/conversations/attributes":
            listed = _unarchived(request, self.conversation_attributes)
            return too_old(request, (2, 16)) or listing(listed)
        parts = path.strip("/").split("/")
        if parts[0] == "conversations" and len(parts) == 2:
            if parts[1] in self.full_conversations and parts[1] not in self.deleted:
                found = as_of(self.full_conversations[parts[1]], api_version(request))
                return httpx.Response(200, json=found)
            return error(404, "not_found", "Resource Not Found")
        if path == "/companies/list" and self.company_list is not None:
            return self._company_list(request)
        if parts[0] == "companies" and len(parts) == 2:
            if parts[1] not in self.companies:
                return error(404, "company_not_found", "Company Not Found")
            found = dict(self.companies[parts[1]])
            if api_version(request) < (2, 16):
                found.pop("notes", None)
            return httpx.Response(200, json=found)
        if parts[0] in ("tickets", "ticket_types", "ticket_states"):
            return self._tickets(request, parts)
        if parts[0] == "contacts" and len(parts) in (2, 3):
            return self._contact(request, parts[1], parts[2] if len(parts) == 3 else None)
        return error(404, "not_found", "Resource Not Found")

    def _company_list(self, request: httpx.Request) -> httpx.Response:
        assert self.company_list is not None and request.method == "POST"
        kind = ("list", "data")
        response = numbered_page(request, self.company_list, kind, self.company_list_per_page)
        if self.company_list_total is None:
            return response
        return httpx.Response(200, json={**response.json(), "total_count": self.company_list_total})

    def _contact(self, request: httpx.Request, cid: str, sub: str | None) -> httpx.Response:
        if cid in self.merged:
            if api_version(request) >= (2, 16):
                link = {"Link": f'</contacts/{self.merged[cid]}>; rel="canonical"'}
                return error(410, "contact_merged", "This contact has been merged.", link)
            return error(404, "not_found", "User Not Found")
        if cid not in self.contacts:
            return error(404, "not_found", "User Not Found")
        if sub is None:
            return httpx.Response(200, json=self.contacts[cid])
        if sub == "tags" and cid in self.contact_tags:
            return listing(self.contact_tags[cid])
        if sub == "companies" and cid in self.contact_companies:  # 2 a page (the sandbox: 15)
            kind = ("list", self.company_list_key)
            return numbered_page(request, self.contact_companies[cid], kind, 2)
        return error(404, "not_found", "Resource Not Found")

    def _data_attributes(self, request: httpx.Request) -> httpx.Response:
        """By ``model``; from 2.16 conversation attributes have their own endpoint: no model
        means contact and company, and ``model=conversation`` is the documented 422."""
        model, newer = request.url.params.get("model"), api_version(request) >= (2, 16)
        if newer and model == "conversation":
            message = (
                "model=conversation is no longer supported. Use GET /conversations/attributes"
                " instead"
            )
            return error(422, "parameter_invalid", message)
        models = (
            {model} if model else {"contact", "company"} | (set() if newer else {"conversation"})
        )
        listed = [a for a in _unarchived(request, self.data_attributes) if a["model"] in models]
        return listing(listed)

    def _deleted(self, request: httpx.Request) -> httpx.Response:
        """Deleted conversation ids, by ``deleted_at`` (the example's order; the description
        says "IDs in ascending or descending order"), ``desc`` unless ``order=asc``; at most 60
        a page. Items leave out the optional ``type``."""
        params = request.url.params
        per_page = min(max(int(params.get("per_page", "20")), 1), 60)
        order = "asc" if params.get("order") == "asc" else "desc"
        items: list[dict[str, Any]] = [
            {"id": cid, "deleted_at": at, "metrics_retained": kept}
            for cid, (at, kept) in self.deleted.items()
        ]
        items.sort(key=lambda d: (d["deleted_at"], d["id"]), reverse=order == "desc")
        keep = {"per_page": per_page, "order": order}
        return numbered_page(
            request, items, ("conversations.list", "conversations"), per_page, keep
        )

    def _tickets(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        if self.tickets_forbidden == "plan":  # DELETE /tickets/{ticket_id}'s 403
            return error(403, "api_plan_restricted", "Active subscription needed.")
        if self.tickets_forbidden == "scope":  # the missing-scope 403 of /macros
            message = "You do not have the required scope (read_tickets) to access this resource"
            return error(403, "forbidden", message)
        version = api_version(request)
        if parts == ["tickets", "search"]:
            rendered = [self._ticket(t, version) for t in self.tickets]
            return self._search(json.loads(request.content), rendered, "tickets", _ticket_field)
        if parts[0] == "tickets" and len(parts) == 2:
            found = [t for t in self.tickets if t["id"] == parts[1]]
            if found:
                return httpx.Response(200, json=self._ticket(found[0], version))
            return error(404, "ticket_not_found", "Ticket not found")
        if len(parts) == 1 and parts[0] != "tickets":
            return listing(self.ticket_types if parts[0] == "ticket_types" else self.ticket_states)
        return error(404, "not_found", "Resource Not Found")

    def _ticket(self, stored: dict[str, Any], version: tuple[int, int]) -> dict[str, Any]:
        """A ticket as ``version`` writes it, with at most the 500 most recent parts."""
        body = dict(stored)
        every = stored["ticket_parts"]["ticket_parts"]
        kept = every[-TICKET_PARTS_MAX:]
        total = len(every) if self.ticket_parts_total == "all" else len(kept)
        body["ticket_parts"] = {
            "type": "ticket_part.list",
            "ticket_parts": kept,
            "total_count": total,
        }
        if version < (2, 16):  # string ids, "0" unassigned (the 2.14/2.15 examples)
            body["admin_assignee_id"] = str(stored["admin_assignee_id"])
            body["team_assignee_id"] = str(stored["team_assignee_id"])
            del body["previous_ticket_state_id"]
        return body

    def _matches(self, item: dict[str, Any], query: dict[str, Any], fields: FieldReader) -> bool:
        """One ``search_request`` query (single filter or nested AND/OR group) against one item.
        ``>``/``<`` honour ``boundary``; ``>=``/``<=`` are always inclusive."""
        if "field" not in query:
            found = (self._matches(item, q, fields) for q in query["value"])
            return all(found) if query["operator"] == "AND" else any(found)
        op, want, value = query["operator"], query["value"], fields(item, query["field"])
        if op in (">", "<", ">=", "<="):
            bound = int(want)  # the ticket search example sends dates as strings
            if value is None:
                return False
            if op == ">=" or (op == ">" and self.boundary == "inclusive"):
                return bool(value >= bound)
            if op == "<=" or (op == "<" and self.boundary == "inclusive"):
                return bool(value <= bound)
            return bool(value > bound if op == ">" else value < bound)
        have = [_text(v) for v in (value if isinstance(value, list) else [value])]
        wanted = [_text(w) for w in (want if isinstance(want, list) else [want])]
        hit = {
            "=": wanted[0] in have,
            "!=": wanted[0] not in have,
            "IN": any(w in have for w in wanted),
            "NIN": not any(w in have for w in wanted),
            "~": any(wanted[0] in h for h in have),
            "!~": not any(wanted[0] in h for h in have),
            "^": any(h.startswith(wanted[0]) for h in have),
            "$": any(h.endswith(wanted[0]) for h in have),
        }
        return hit[op]

    def _search(
        self, body: dict[str, Any], items: list[dict[str, Any]], kind: str, fields: FieldReader
    ) -> httpx.Response:
        """A cursor-paged search over ``items``: the same order, bounds, cursor format, rejected
        cursors and repeats for every searchable object; ``kind`` names the list."""
        hits = [i for i in items if self._matches(i, body["query"], fields)]
        if self.order == "descending":
            hits.sort(key=lambda c: (-c["updated_at"], c["id"]))
        elif self.order == "scrambled":
            random.Random(len(hits)).shuffle(hits)
        pagination = body.get("pagination") or {}
        per_page = min(pagination.get("per_page", 20), SEARCH_PAGE_MAX[kind])
        cursor = pagination.get("starting_after")
        if cursor and self.reject_cursors > 0:
            self.reject_cursors -= 1
            return error(400, "client_error", "Invalid starting_after param")
        offset = int(cursor.split(":")[1]) if cursor else 0
        page = hits[offset : offset + per_page]
        if cursor and self.duplicate_across_pages:
            page = [hits[offset - 1], *page]
        pages: dict[str, Any] = {
            "type": "pages",
            "page": offset // per_page + 1,
            "per_page": per_page,
        }
        if offset + per_page < len(hits):
            pages["next"] = {"per_page": per_page, "starting_after": f"opaque:{offset + per_page}"}
        body: dict[str, Any] = {"type": f"{kind[:-1]}.list", kind: page, "pages": pages}
        if self.total_count:
            body["total_count"] = len(hits)
        return httpx.Response(200, json=body)
