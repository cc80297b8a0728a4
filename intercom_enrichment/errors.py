"""The error tree, and the one function that decides "retry or fail".

::

    IntercomEnrichmentError
    ├── ConfigError                bad input from the user: one line, exit 2
    ├── OutputError                output location unusable
    └── IntercomError              an answer (or no answer) from the API
        ├── RetryableError         worth another attempt
        │   ├── RateLimited        429 (wait until X-RateLimit-Reset / Retry-After)
        │   ├── ServerError        5xx, 408 (request timeout) and 409 (conflict)
        │   ├── TransportError     connection dropped, refused, timed out (INTERCOM_REQUEST_TIMEOUT)
        │   ├── MalformedResponse  2xx whose body is not the JSON object expected (not UTF-8,
        │   │                      not JSON, nested too deep, no list where one belongs)
        │   └── ResponseTooLarge   a body beyond INTERCOM_MAX_RESPONSE_MB (a proxy that sent
        │                          garbage once: the next attempt may be right)
        └── FatalError             stop: retrying cannot help
            ├── WaitTooLong        a rate-limit wait beyond INTERCOM_MAX_WAIT
            ├── BrokenPagination   a search that repeats its cursor or pages without end
            ├── InvalidId          an id from a response that is not a plain Intercom id: never
            │                      sent; a problem of that one record
            ├── Unauthorized       401 (invalid token, or a token for another region)
            ├── Forbidden          403 (plan restricted, missing scope)
            ├── BadRequest         400 (unknown Intercom-Version, bad query)
            │   ├── InvalidCursor  400 naming starting_after (or a cursor code): restart
            │   └── VersionTooOld  400 intercom_version_invalid: the endpoint is not in the
            │                      Intercom-Version asked for
            ├── NotFound           404
            ├── ContactMerged      410, with the canonical contact id from the Link header
            └── NotIntercom        the server answered something that is not Intercom's API
                                   (HTML, an error without Intercom's body, a redirect)
    Interrupted                    SIGTERM/SIGINT: in-flight requests were cancelled (signals.py);
                                   deliberately not an IntercomError, so nothing absorbs it

``UNAVAILABLE`` (403, 404, 400 ``intercom_version_invalid``) is what an endpoint the token,
the workspace or the API version does not offer answers: an optional object (tickets) is then
reported unavailable instead of failing the run.

Every ``IntercomError`` carries the status, method, path and Intercom's ``request_id``; none ever
carries the token or request headers.
"""

import math
import re
from typing import Any

import httpx


class IntercomEnrichmentError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(IntercomEnrichmentError):
    """Bad configuration or arguments."""


class OutputError(IntercomEnrichmentError):
    """The output location cannot be written."""


class IntercomError(IntercomEnrichmentError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.request_id = request_id
        self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        rid = f", request_id={self.request_id}" if self.request_id else ""
        code = f" [{self.code}]" if self.code else ""
        return f"{where}: {status}{code}: {self.message}{rid}"

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (Dask, Prefect)
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[IntercomError], state: dict[str, Any]) -> IntercomError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, str(err))
    return err


class RetryableError(IntercomError):
    """Transient: another attempt may succeed."""


class RateLimited(RetryableError):
    def __init__(self, message: str, *, retry_at: float | None = None, **kw: Any) -> None:
        self.retry_at = retry_at  # UNIX time after which a retry may succeed
        super().__init__(message, **kw)


class ServerError(RetryableError):
    pass


class TransportError(RetryableError):
    pass


class MalformedResponse(RetryableError):
    pass


class FatalError(IntercomError):
    """Retrying cannot help."""


class Unauthorized(FatalError):
    pass


class Forbidden(FatalError):
    pass


class BadRequest(FatalError):
    pass


class InvalidCursor(BadRequest):
    pass


class VersionTooOld(BadRequest):
    """``intercom_version_invalid``: "Requested resource is not available in current API
    version." (Intercom-OpenAPI descriptions/2.16, GET /conversations/deleted)."""


class NotFound(FatalError):
    pass


class ContactMerged(FatalError):
    def __init__(self, message: str, *, canonical_id: str | None = None, **kw: Any) -> None:
        self.canonical_id = canonical_id
        super().__init__(message, **kw)


class NotIntercom(FatalError):
    pass


class WaitTooLong(FatalError):
    pass


class ResponseTooLarge(RetryableError):
    pass


class BrokenPagination(FatalError):
    pass


class InvalidId(FatalError):
    """An id taken from a response that cannot go into a URL path; the request is not sent."""


# What an endpoint the token, the workspace or the API version does not offer answers.
UNAVAILABLE: tuple[type[IntercomError], ...] = (Forbidden, NotFound, VersionTooOld)


class Interrupted(IntercomEnrichmentError):
    """The process was asked to stop (SIGTERM or SIGINT)."""


# The 2.16 spec's 410 carries a *relative* link, ``</contacts/{id}>; rel="canonical"``: only
# that form is followed (never another host); the client validates the id (ids.py) before
# it sends it.
_LINK_CANONICAL = re.compile(r"<\s*/contacts/([^/>?#\s]+)\s*>\s*;\s*rel=\"?canonical\"?")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]+")


def clean_text(value: object, limit: int = 200) -> str | None:
    """Server-supplied text made safe for one line of an error: printable, bounded."""
    if value is None:
        return None
    text = _UNPRINTABLE.sub(" ", str(value)[: limit * 2]).strip()
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    return text[:limit] + ("…" if len(text) > limit else "")


# Intercom's own Python SDK retries 408, 409, 429 and 5xx (intercom/python-intercom,
# core/http_client.py); 408 is a documented status of the API (developers.intercom.com, Errors).
TRANSIENT_4XX = frozenset({408, 409})


def _names_cursor(code: str | None, message: str | None) -> bool:
    """A rejected cursor: documented as 400 ``client_error`` "Invalid starting_after param…"
    (developers.intercom.com, Pagination / error codes), so the message decides, not the code;
    a code naming "cursor" is accepted too."""
    return (code is not None and "cursor" in code) or (
        message is not None and "starting_after" in message
    )


def _error_body(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """(code, message, request_id) from an Intercom ``error.list`` body, if it is one."""
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    errors = body.get("errors") or [{}]
    first = errors[0] if isinstance(errors, list) and isinstance(errors[0], dict) else {}
    return (
        clean_text(first.get("code"), 60),
        clean_text(first.get("message")),
        clean_text(body.get("request_id"), 80),
    )


def hint_seconds(raw: str | None) -> float | None:
    """A rate-limit header as a number: None unless it is finite and non-negative."""
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _float_header(headers: httpx.Headers, name: str) -> float | None:
    return hint_seconds(headers.get(name))


def classify(response: httpx.Response, *, now: float) -> IntercomError | None:
    """The error a response means, or None when it is a usable JSON answer.

    The one place that maps statuses to the error tree; callers never inspect status codes.
    """
    status = response.status_code
    request = response.request
    where: dict[str, Any] = {"status": status, "method": request.method, "path": request.url.path}
    content_type = response.headers.get("content-type", "")
    if 200 <= status < 300:
        if "json" not in content_type:
            if "html" in content_type:
                return NotIntercom(
                    "the server answered an HTML page, not Intercom's JSON API: "
                    "check INTERCOM_BASE_URL",
                    **where,
                )
            return MalformedResponse(f"unexpected content type {content_type!r}", **where)
        return None
    if 300 <= status < 400:  # redirects are not followed: Intercom documents none
        return NotIntercom(
            f"HTTP {status} redirect (not followed): check INTERCOM_BASE_URL", **where
        )
    code, message, request_id = _error_body(response)
    kw: dict[str, Any] = {**where, "request_id": request_id, "code": code}
    text = message or clean_text(response.reason_phrase, 60) or "error"
    if status == 429:
        retry_after = _float_header(response.headers, "retry-after")
        reset = _float_header(response.headers, "x-ratelimit-reset")
        retry_at = now + retry_after if retry_after is not None else reset
        return RateLimited(text, retry_at=retry_at, **kw)
    if status >= 500 or status in TRANSIENT_4XX:
        return ServerError(text, **kw)
    if code is None and "json" not in content_type:
        return NotIntercom(
            f"HTTP {status} without an Intercom error body: check INTERCOM_BASE_URL", **kw
        )
    if status == 401:
        return Unauthorized(f"{text} (invalid token, or a token for another region)", **kw)
    if status == 403:
        return Forbidden(text, **kw)
    if status == 404:
        return NotFound(text, **kw)
    if status == 410:
        match = _LINK_CANONICAL.search(response.headers.get("link", ""))
        return ContactMerged(text, canonical_id=match.group(1) if match else None, **kw)
    if status == 400 and _names_cursor(code, message):
        return InvalidCursor(text, **kw)
    if status == 400 and code == "intercom_version_invalid":
        return VersionTooOld(text, **kw)
    return BadRequest(text, **kw)
