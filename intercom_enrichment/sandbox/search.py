"""The two search endpoints: query parsing, result ordering and cursor pagination.

Cursors are opaque to clients: URL-safe base64 (unpadded) of ``{"offset": n, "query": fp}``
where ``offset`` is the position of the next result and ``fp`` a fingerprint of the query. A
cursor that does not decode, or that belongs to another query, is answered with Intercom's
documented cursor error: 400 ``client_error``, "Invalid starting_after param…" (the code does
not say "cursor"). An ``id IN [...]`` contact search longer than the configured limit is
answered 400 ``parameter_invalid``.

Not modelled: the 2.16 description of ``POST /contacts/search`` matches a contact's timestamp
fields "by calendar day" (``=`` the whole day, ``>`` from the next day; ``>=``, ``<=`` and ``!=``
on dates are errors). The sandbox matches contacts' ``updated_at`` to the second, as it does
conversations'; a client that relies on day matching is not tested by it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import SandboxConfig
from .responses import SearchError
from .timeline import coprime_at_least

if TYPE_CHECKING:
    from .world import World

MAX_PER_PAGE = 150
MAX_FILTERS_PER_GROUP = 15
_TIME_OPERATORS = (">", ">=", "<", "<=", "=")
CURSOR_ERROR = ("client_error", "Invalid starting_after param: the cursor cannot be used")


@dataclass(frozen=True)
class Page:
    """Result positions ``[start, stop)`` of one page, and where the next page starts."""

    start: int
    stop: int
    number: int
    total_pages: int
    next_offset: int | None


def paginate(total: int, offset: int, per_page: int, repeat_last: bool) -> Page:
    """Cut a page. With `repeat_last` a page after the first starts by repeating the previous
    page's last result (as when a result moves during paging), so it brings ``per_page - 1``
    new results; with ``per_page == 1`` repeating would never advance, so nothing is repeated.
    """
    if repeat_last and per_page > 1:
        start = max(offset - 1, 0)
        number = 1 if offset == 0 else 2 + max(offset - per_page, 0) // (per_page - 1)
        extra = max(total - per_page, 0)
        total_pages = 0 if total == 0 else 1 + math.ceil(extra / (per_page - 1))
    else:
        start = offset
        number = offset // per_page + 1
        total_pages = math.ceil(total / per_page)
    stop = min(start + per_page, total)
    return Page(start, stop, number, total_pages, stop if stop < total else None)


def fingerprint(*parts: Any) -> str:
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_cursor(offset: int, query_fingerprint: str) -> str:
    raw = json.dumps({"offset": offset, "query": query_fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, query_fingerprint: str, total: int) -> int:
    """The offset a cursor points at; SearchError(invalid_cursor) if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (ValueError, binascii.Error):
        data = None
    offset = data.get("offset") if isinstance(data, dict) else None
    valid = (
        isinstance(data, dict)
        and data.get("query") == query_fingerprint
        and type(offset) is int
        and 0 < offset < total
    )
    if not valid:
        raise SearchError(*CURSOR_ERROR)
    assert isinstance(offset, int)
    return offset


def _group(query: Any, depth: int) -> tuple[str, list[Any]]:
    """An AND or OR group's operator and its items, checked against the documented limits:
    "max 15 filters for each AND or OR group", "max 2 nested filters" (OpenAPI 2.16, ``POST
    /tickets/search``; the search endpoints share the `search_request` schema)."""
    if not isinstance(query, dict):
        raise SearchError("parameter_invalid", "query must be an object")
    operator, value = query.get("operator"), query.get("value")
    if operator not in ("AND", "OR"):
        raise SearchError("parameter_invalid", "A group's operator is AND or OR")
    if not isinstance(value, list) or not value:
        raise SearchError("parameter_invalid", f"An {operator} group needs a non-empty list")
    if len(value) > MAX_FILTERS_PER_GROUP or depth >= 2:
        raise SearchError(
            "parameter_invalid",
            f"At most {MAX_FILTERS_PER_GROUP} filters per group and 2 levels of nesting",
        )
    return operator, value


def _filters(query: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The leaf filters of a query made of a single filter or (nested) AND groups."""
    if isinstance(query, dict) and "field" in query:
        return [query]
    operator, value = _group(query, depth)
    if operator != "AND":
        raise SearchError("parameter_invalid", "The sandbox supports only AND groups here")
    return [leaf for item in value for leaf in _filters(item, depth + 1)]


def _fields(query: Any, depth: int = 0) -> set[Any]:
    """The fields a query's leaves filter on, through AND and OR groups."""
    if isinstance(query, dict) and "field" in query:
        return {query.get("field")}
    return {field for item in _group(query, depth)[1] for field in _fields(item, depth + 1)}


def _timestamp(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise SearchError("parameter_invalid", f"Invalid timestamp value {value!r}")


def _leaf_range(leaf: dict[str, Any], strict: bool) -> tuple[int, int]:
    if leaf.get("field") != "updated_at":
        raise SearchError(
            "parameter_invalid",
            f"Unsupported field {leaf.get('field')!r}: the sandbox searches on updated_at",
        )
    operator, value = leaf.get("operator"), _timestamp(leaf.get("value"))
    if operator not in _TIME_OPERATORS:
        raise SearchError("parameter_invalid", f"Unsupported operator {operator!r}")
    lo, hi = -(2**63), 2**63
    if operator in (">", ">=", "="):
        lo = value + 1 if operator == ">" and strict else value
    if operator in ("<", "<=", "="):
        hi = value if operator == "<" and strict else value + 1
    return lo, hi


def time_range(query: Any, strict: bool, depth: int = 0) -> tuple[int, int]:
    """The half-open `updated_at` interval ``[lo, hi)`` a query selects.

    ``>``/``<`` include the bound unless `strict`; ``>=``/``<=`` always include it. An AND group
    intersects its items' intervals; an OR group joins them and must make one interval (as
    ``updated_at > t OR updated_at = t`` does, the query Airbyte's source-intercom sends): the
    sandbox answers no other OR.
    """
    if isinstance(query, dict) and "field" in query:
        return _leaf_range(query, strict)
    operator, value = _group(query, depth)
    ranges = [time_range(item, strict, depth + 1) for item in value]
    if operator == "AND":
        return max(lo for lo, _ in ranges), min(hi for _, hi in ranges)
    joined = sorted((lo, hi) for lo, hi in ranges if lo < hi)
    if not joined:
        return 0, 0
    lo, hi = joined[0]
    for a, b in joined[1:]:
        if a > hi:
            raise SearchError(
                "parameter_invalid", "The sandbox answers an OR of ranges that make one range"
            )
        hi = max(hi, b)
    return lo, hi


def contact_ids(query: Any) -> list[str]:
    """The ids a contacts query asks for (`id IN [...]` or `id = ...`), deduplicated."""
    selected: list[str] | None = None
    for leaf in _filters(query):
        operator, value = leaf.get("operator"), leaf.get("value")
        if leaf.get("field") != "id":
            raise SearchError(
                "parameter_invalid",
                f"Unsupported field {leaf.get('field')!r}: the sandbox searches contacts by id",
            )
        if operator == "=" and isinstance(value, str):
            ids = [value]
        elif (
            operator == "IN" and isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            ids = value
        else:
            raise SearchError("parameter_invalid", "Use id IN [ids] or id = id")
        if selected is None:
            selected = list(dict.fromkeys(ids))
        else:
            wanted = set(ids)
            selected = [i for i in selected if i in wanted]
    assert selected is not None  # _filters never returns an empty list
    return selected


def _pagination(body: dict[str, Any], default: int) -> tuple[int, str | None]:
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise SearchError("parameter_invalid", "pagination must be an object")
    per_page = pagination.get("per_page", default)
    if type(per_page) is not int or per_page < 1:
        raise SearchError("parameter_invalid", "per_page must be a positive integer")
    cursor = pagination.get("starting_after")
    if cursor is not None and not isinstance(cursor, str):
        raise SearchError(*CURSOR_ERROR)
    return min(per_page, MAX_PER_PAGE), cursor or None


def _query(body: Any) -> Any:
    if not isinstance(body, dict) or body.get("query") is None:
        raise SearchError("parameter_not_found", "query is required")
    return body["query"]


def _pages(page: Page, per_page: int, query_fingerprint: str) -> dict[str, Any]:
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page.number,
        "per_page": per_page,
        "total_pages": page.total_pages,
    }
    if page.next_offset is not None:
        cursor = encode_cursor(page.next_offset, query_fingerprint)
        pages["next"] = {"per_page": per_page, "starting_after": cursor}
    return pages


def _position_to_index(config: SandboxConfig, indices: Sequence[int], position: int) -> int:
    """Map a result position to an object's index according to `config.order`."""
    total = len(indices)
    if config.order == "descending":
        return indices[total - 1 - position]
    if config.order == "shuffled":
        # A deterministic affine permutation of 0..total-1.
        step = coprime_at_least(total, int(total * 0.618) + config.seed % 97)
        return indices[(position * step + config.seed) % total]
    return indices[position]


def window_search(
    config: SandboxConfig,
    body: Any,
    kind: str,
    indices_for: Callable[[int, int], Sequence[int]],
    item: Callable[[int], dict[str, Any]],
) -> dict[str, Any]:
    """A search over `updated_at` of a `kind` (``"conversations"``, ``"tickets"``): the
    ``{"type": "<kind singular>.list", "pages", "total_count", kind: [...]}`` body, with
    `config`'s boundary, order and repeated results. `indices_for(lo, hi)` are the matching
    objects' indices by ``updated_at``; `item(i)` builds one. A cursor belongs to one kind and
    one time range."""
    lo, hi = time_range(_query(body), strict=config.boundary == "strict")
    per_page, cursor = _pagination(body, default=20)
    indices = indices_for(lo, hi)
    query_fingerprint = fingerprint(kind, lo, hi)
    offset = 0 if cursor is None else decode_cursor(cursor, query_fingerprint, len(indices))
    page = paginate(len(indices), offset, per_page, config.duplicate_across_pages)
    return {
        "type": f"{kind.removesuffix('s')}.list",
        "pages": _pages(page, per_page, query_fingerprint),
        "total_count": len(indices),
        kind: [
            item(_position_to_index(config, indices, position))
            for position in range(page.start, page.stop)
        ],
    }


def conversations_response(
    world: World, config: SandboxConfig, body: Any, version: str
) -> dict[str, Any]:
    """The body of POST /conversations/search."""
    return window_search(
        config,
        body,
        "conversations",
        world.search_indices,
        lambda i: world.conversation(i, version),
    )


def contacts_response(
    world: World, config: SandboxConfig, body: Any, version: str
) -> dict[str, Any]:
    """The body of POST /contacts/search: searchable contacts among the ids asked for, or, for a
    query on ``updated_at`` alone (a date field of the contact model, OpenAPI 2.16 ``POST
    /contacts/search``), the searchable contacts updated in its range, by ``updated_at``."""
    query = _query(body)
    per_page, cursor = _pagination(body, default=50)
    found: Sequence[int]
    if _fields(query) == {"updated_at"}:
        lo, hi = time_range(query, strict=config.boundary == "strict")
        found = world.contacts_updated(lo, hi)
        query_fingerprint = fingerprint("contacts-updated", lo, hi)
    else:
        ids = _contact_ids_within(query, config.contact_search_in_limit)
        found = [
            j
            for j in (world.contact_index(contact_id) for contact_id in ids)
            if j is not None and world.contact_status(j) == "active"
        ]
        query_fingerprint = fingerprint("contacts", ids)
    offset = 0 if cursor is None else decode_cursor(cursor, query_fingerprint, len(found))
    page = paginate(len(found), offset, per_page, repeat_last=False)
    return {
        "type": "list",
        "data": [world.contact(j, version) for j in found[page.start : page.stop]],
        "total_count": len(found),
        "pages": _pages(page, per_page, query_fingerprint),
    }


def _contact_ids_within(query: Any, in_limit: int | None) -> list[str]:
    """`contact_ids`, with an ``IN`` longer than `in_limit` answered 400."""
    if in_limit is not None:
        for leaf in _filters(query):
            value = leaf.get("value")
            if leaf.get("operator") == "IN" and isinstance(value, list) and len(value) > in_limit:
                raise SearchError(
                    "parameter_invalid",
                    f"IN accepts at most {in_limit} values (it is a shortcut for OR)",
                )
    return contact_ids(query)
