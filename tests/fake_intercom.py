"""A second, independent Intercom-compatible server for ``httpx.MockTransport``.

It deliberately differs from the sandbox wherever the API documentation leaves room: results in
descending or scrambled order, strict or inclusive ``>``/``<``, a different cursor format,
optional repeats across pages. The client must get every conversation exactly once from both.

Written from the OpenAPI descriptions, not from the sandbox: merged contacts answer 410 + Link
only from Intercom-Version 2.16 (404 before), an optional IN limit answers 400
``parameter_invalid``, rejected cursors get the documented 400 ``client_error`` "Invalid
starting_after param", and the workspace lists and a contact's full tags/companies are served
from whatever the test puts in.
"""

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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


def _text(value: Any) -> str:
    """Search values compare as text: ids are strings in search, integers in some objects."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _top_level(item: dict[str, Any], name: str) -> Any:
    if name not in item:
        raise NotImplementedError(f"the fake cannot search on {name!r}")
    return item[name]


def conversation(conv_id: int, updated_at: int, contact_ids: list[str]) -> dict[str, Any]:
    return {
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

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return error(401, "unauthorized", "Access Token Invalid")
        if self.fail_next:
            return self.fail_next.pop(0)
        path = request.url.path
        if path == "/conversations/search":
            return self._search(
                json.loads(request.content), self.conversations, "conversations", _top_level
            )
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
        parts = path.strip("/").split("/")
        if parts[0] == "conversations" and len(parts) == 2:
            if parts[1] in self.full_conversations:
                return httpx.Response(200, json=self.full_conversations[parts[1]])
            return error(404, "not_found", "Resource Not Found")
        if parts[0] == "contacts" and len(parts) in (2, 3):
            return self._contact(request, parts[1], parts[2] if len(parts) == 3 else None)
        return error(404, "not_found", "Resource Not Found")

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
            return httpx.Response(200, json={"type": "list", "data": self.contact_tags[cid]})
        if (
            sub == "companies" and cid in self.contact_companies
        ):  # paged by page number, 2 a page (the sandbox: 15)
            data = self.contact_companies[cid]
            page = int(request.url.params.get("page", "1"))
            pages = {
                "type": "pages",
                "page": page,
                "per_page": 2,
                "total_pages": -(-len(data) // 2),
            }
            body = {
                "type": "list",
                self.company_list_key: data[(page - 1) * 2 : page * 2],
                "pages": pages,
            }
            return httpx.Response(200, json=body)
        return error(404, "not_found", "Resource Not Found")

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
        return httpx.Response(
            200,
            json={
                "type": f"{kind[:-1]}.list",
                kind: page,
                "total_count": len(hits),
                "pages": pages,
            },
        )
