"""What every endpoint handler shares: the request as handlers see it, Intercom's error body,
the version gate, and the few page-number parameters (Intercom-OpenAPI descriptions/2.16)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .config import at_least

VERSION_UNAVAILABLE = "Requested resource is not available in current API version."
"""The 400 ``intercom_version_invalid`` message of GET /conversations/deleted before 2.16
(descriptions/2.16, ``listDeletedConversationIds``); the sandbox answers it for every endpoint
asked for in a version whose description does not have it."""
SCOPES = {"conversations": "read_conversations", "contacts": "read_users"}
"""OAuth scope a "403" fault names, by endpoint prefix; others read ``read_<prefix>``, and the
ticket endpoints ``read_tickets`` (the spec names only read_conversations in its 403 example)."""


class SearchError(Exception):
    """A request an endpoint refuses: answered `status` (400) with this code and message."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An Intercom error body: ``{"type": "error.list", "request_id", "errors": [...]}``."""
    body = {
        "type": "error.list",
        "request_id": str(uuid.uuid4()),
        "errors": [{"code": code, "message": message}],
    }
    return JSONResponse(body, status_code=status, headers=headers)


def forbidden(endpoint: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """403 for a token without the endpoint's scope, as descriptions/2.16 shows it
    (``forbidden``, "You do not have the required scope (read_conversations) to access…")."""
    prefix = endpoint.split(".")[0]
    scope = "read_tickets" if prefix.startswith("ticket") else SCOPES.get(prefix, f"read_{prefix}")
    message = f"You do not have the required scope ({scope}) to access this resource"
    return error_response(403, "forbidden", message, headers)


def answer(build: Callable[[], Any]) -> Response:
    """`build()`'s body as JSON, or the error a SearchError it raises stands for."""
    try:
        return JSONResponse(build())
    except SearchError as error:
        return error_response(error.status, error.code, error.message)


@dataclass(frozen=True)
class Call:
    """An authenticated, admitted request as endpoint handlers see it."""

    request: Request
    version: str
    body: Any


Handler = Callable[[Call], Response]
Route = tuple[str, str, str, Handler]
"""(method, path, endpoint key, handler)."""


def since(minimum: str, handler: Handler) -> Handler:
    """`handler` from API version `minimum` on; before it, 400 ``intercom_version_invalid``."""

    def gated(call: Call) -> Response:
        if not at_least(call.version, minimum):
            return error_response(400, "intercom_version_invalid", VERSION_UNAVAILABLE)
        return handler(call)

    return gated


def positive_param(value: str | None, default: int, name: str = "page") -> int:
    """A positive integer query parameter; SearchError(parameter_invalid) if it is not one."""
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SearchError("parameter_invalid", f"Invalid {name} parameter {value!r}")
    return int(value)


def page_numbers(
    total: int, page: int, per_page: int, next_url: str
) -> tuple[slice, dict[str, Any]]:
    """The slice of page `page` and its ``pages`` (schema ``pages_link``): ``next`` is
    `next_url` followed by the next page's number, null on the last page."""
    total_pages = max(1, -(-total // per_page))
    following = f"{next_url}{page + 1}" if page < total_pages else None
    pages = {"type": "pages", "next": following, "page": page, "per_page": per_page}
    pages["total_pages"] = total_pages
    return slice((page - 1) * per_page, page * per_page), pages
