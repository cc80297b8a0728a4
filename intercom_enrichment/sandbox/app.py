"""The Starlette application that speaks Intercom's REST API over a `World`.

Every request goes through the same pipeline: authentication (401 without rate-limit
headers), rate-limit accounting (429 when over), `Intercom-Version` check, simulated latency,
fault injection, and finally the endpoint itself. Rate-limit headers are added to every
authenticated response when a limit is configured.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import workspace
from .companies import contact_companies
from .config import (
    API_VERSIONS,
    DEFAULT_API_VERSION,
    DEFAULT_RATE_LIMIT,
    FaultRule,
    SandboxConfig,
)
from .deletions import delete_route
from .hold import RequestHold
from .limits import FaultInjector, RateLimiter, retry_after, window_reset
from .object_routes import object_routes
from .records import is_v216
from .responses import Call, Handler, answer, error_response, forbidden
from .search import CURSOR_ERROR, contacts_response, conversations_response
from .stats import SandboxStats
from .updates import control_route
from .world import World

_RAW_SEND = "intercom_sandbox.raw_send"
_INVALID_JSON = object()
ME = {
    "type": "admin",
    "id": "1",
    "email": "sandbox@example.com",
    "name": "Sandbox",
    "app": {"type": "app", "id_code": "sandbox", "region": "US"},
}
_SERVER_ERRORS = {
    "500": (500, "server_error", "Server Error"),
    "502": (502, "bad_gateway", "Bad Gateway"),
    "503": (503, "service_unavailable", "Service Unavailable"),
    "408": (408, "request_timeout", "Request Timeout"),
    "409": (409, "conflict", "Conflict"),
}
_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    "<body><h1>We'll be right back</h1><p>Intercom is down for maintenance.</p></body></html>"
)


class _SandboxApp(Starlette):
    """Starlette that keeps the server's own `send` in the scope, so a fault can find the
    connection's transport and drop it (Starlette's middleware wraps `send`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_RAW_SEND] = send
        await super().__call__(scope, receive, send)


async def _drop_connection(scope: Scope) -> None:
    """Close the client connection without answering (uvicorn's HTTP protocols only)."""
    cycle = getattr(scope.get(_RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("the 'drop' fault needs the sandbox to be served by uvicorn")
    transport.close()
    # Once uvicorn has seen the connection go, it discards whatever the app still sends.
    for _ in range(100):
        if getattr(cycle, "disconnected", False):
            return
        await asyncio.sleep(0.001)
    transport.abort()


async def _pause(seconds: float, stopping: threading.Event) -> None:
    """Sleep like `asyncio.sleep`, but wake up early once the server is stopping."""
    deadline = time.monotonic() + seconds
    while not stopping.is_set() and (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 0.05))


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _INVALID_JSON


def _has_cursor(body: Any) -> bool:
    pagination = body.get("pagination") if isinstance(body, dict) else None
    return isinstance(pagination, dict) and pagination.get("starting_after") is not None


class _Endpoints:
    """The endpoint handlers proper, behind the common pipeline."""

    def __init__(self, world: World, config: SandboxConfig) -> None:
        self.world = world
        self.config = config

    def search_conversations(self, call: Call) -> Response:
        return answer(
            lambda: conversations_response(self.world, self.config, call.body, call.version)
        )

    def get_conversation(self, call: Call) -> Response:
        i = self.world.conversation_index(call.request.path_params["conversation_id"])
        if i is None:
            return error_response(404, "not_found", "Resource Not Found")
        return JSONResponse(self.world.conversation_with_parts(i, call.version))

    def _contact_or_error(self, contact_id: str, version: str) -> int | Response:
        """A merged contact: 410 + Link from 2.16 (and Preview), 404 like a deleted one up to
        2.15 (Intercom-OpenAPI descriptions/2.15 vs 2.16, GET /contacts/{id})."""
        j = self.world.contact_index(contact_id)
        status = None if j is None else self.world.contact_status(j)
        canonical = (
            self.world.canonical_contact(j)
            if j is not None and status == "merged" and is_v216(version)
            else None
        )
        if j is None or status == "deleted" or (status == "merged" and canonical is None):
            return error_response(404, "not_found", "User Not Found")
        if canonical is not None:
            link = f'</contacts/{self.world.contact_id(canonical)}>; rel="canonical"'
            message = (
                "This contact has been merged. See the 'Link' header for the canonical contact."
            )
            return error_response(410, "contact_merged", message, {"Link": link})
        return j

    def get_contact(self, call: Call) -> Response:
        found = self._contact_or_error(call.request.path_params["contact_id"], call.version)
        if isinstance(found, Response):
            return found
        return JSONResponse(self.world.contact(found, call.version))

    def contact_segments(self, call: Call) -> Response:
        found = self._contact_or_error(call.request.path_params["contact_id"], call.version)
        if isinstance(found, Response):
            return found
        return JSONResponse({"type": "list", "data": self.world.segments(found)})

    def contact_tags(self, call: Call) -> Response:
        found = self._contact_or_error(call.request.path_params["contact_id"], call.version)
        if isinstance(found, Response):
            return found
        full = self.world.contact(found, call.version, full_lists=True)
        return JSONResponse(workspace.contact_tags(full))

    def contact_companies(self, call: Call) -> Response:
        found = self._contact_or_error(call.request.path_params["contact_id"], call.version)
        if isinstance(found, Response):
            return found
        full = self.world.contact(found, call.version, full_lists=True)
        query, url = dict(call.request.query_params), str(call.request.url.replace(query=""))
        return answer(
            lambda: contact_companies(self.world.companies, full, call.version, query, url)
        )

    def search_contacts(self, call: Call) -> Response:
        return answer(lambda: contacts_response(self.world, self.config, call.body, call.version))

    def admins(self, call: Call) -> Response:
        return JSONResponse(workspace.admins())

    def teams(self, call: Call) -> Response:
        return JSONResponse(workspace.teams())

    def tags(self, call: Call) -> Response:
        return JSONResponse(workspace.tags())

    def segments(self, call: Call) -> Response:
        return JSONResponse(workspace.segments(self.config.start_ts))

    def me(self, call: Call) -> Response:
        return JSONResponse(ME)


def build_app(
    world: World, config: SandboxConfig, stats: SandboxStats, hold: RequestHold | None = None
) -> Starlette:
    """The sandbox's ASGI application over `world`, recording what it serves in `stats`;
    ``hold`` (tests) can keep requests unanswered.

    Setting the ``app.state.stopping`` event cuts simulated latency and "slow" faults short,
    so that a server shutting down does not have to cancel requests.
    """
    stopping = threading.Event()
    limiter = RateLimiter(config.rate_limit) if config.rate_limit > 0 else None
    injector = FaultInjector(config.faults, config.seed)
    latency_rng = random.Random(f"{config.seed}:latency")
    endpoints = _Endpoints(world, config)
    hold = hold or RequestHold()

    def too_many(limit: int, reset: int, headers: dict[str, str]) -> Response:
        if config.retry_after_header:
            headers = {**headers, "Retry-After": str(retry_after(reset, time.time()))}
        message = f"Exceeded rate limit of {limit} in 10_seconds"
        return error_response(429, "rate_limit_exceeded", message, headers)

    def fault_response(rule: FaultRule, key: str, headers: dict[str, str]) -> Response | None:
        """The response a fault answers with instead of the endpoint's (None: no shortcut)."""
        if rule.kind in _SERVER_ERRORS:
            status, code, message = _SERVER_ERRORS[rule.kind]
            return error_response(status, code, message, headers)
        if rule.kind == "403":
            return forbidden(key, headers)
        if rule.kind == "429":
            return too_many(
                config.rate_limit or DEFAULT_RATE_LIMIT, window_reset(time.time()), headers
            )
        if rule.kind == "html":
            return HTMLResponse(_HTML_PAGE, headers=headers)
        if rule.kind == "invalid_cursor":
            return error_response(400, *CURSOR_ERROR, headers)
        return None

    async def serve(request: Request, key: str, handler: Handler) -> Response | None:
        """Run the pipeline; None when the connection was dropped."""
        if request.headers.get("authorization") != f"Bearer {config.token}":
            return error_response(401, "unauthorized", "Access Token Invalid")
        await hold.gate(stopping)
        headers: dict[str, str] = {}
        if limiter is not None:
            decision = limiter.hit()
            headers = decision.headers()
            if not decision.allowed:
                return too_many(decision.limit, decision.reset, headers)
        version = request.headers.get("intercom-version", DEFAULT_API_VERSION)
        if version not in API_VERSIONS:
            message = "The requested version could not be found"
            return error_response(400, "intercom_version_invalid", message, headers)
        low, high = config.latency_ms
        if high > 0:
            await _pause(latency_rng.uniform(low, high) / 1000, stopping)
        body = _parse_body(await request.body()) if request.method == "POST" else None
        rule = injector.pick(key, _has_cursor(body))
        if rule is not None:
            stats.record_fault(rule.kind)
            if rule.kind == "drop":
                await _drop_connection(request.scope)
                return None
            if rule.kind == "slow":
                await _pause(rule.slow_seconds, stopping)
            shortcut = fault_response(rule, key, headers)
            if shortcut is not None:
                return shortcut
        response: Response
        if body is _INVALID_JSON:
            response = error_response(400, "parameter_invalid", "Request body is not valid JSON")
        else:
            response = handler(Call(request, version, body))
        if rule is not None and rule.kind == "malformed":
            truncated = bytes(response.body)[: max(1, len(response.body) // 2)]
            response = Response(truncated, media_type="application/json")
        response.headers.update(headers)
        return response

    def route(path: str, key: str, handler: Handler, method: str) -> Route:
        async def endpoint(request: Request) -> Response:
            stats.record_request(key)
            response = await serve(request, key, handler)
            if response is None:
                return Response()  # never reaches the client: the connection is gone
            stats.record_response(response.status_code)
            return response

        return Route(path, endpoint, methods=[method], name=key)

    async def unknown_route(request: Request, exc: Exception) -> Response:
        """404/405 for paths and methods the sandbox does not serve."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(404, "not_found", "Resource Not Found")
        return error_response(exc.status_code, "method_not_allowed", str(exc.detail))

    table: list[tuple[str, str, str, Handler]] = [
        *object_routes(world),  # before /conversations/{id}: /conversations/deleted...
        ("POST", "/conversations/search", "conversations.search", endpoints.search_conversations),
        (
            "GET",
            "/conversations/{conversation_id}",
            "conversations.get",
            endpoints.get_conversation,
        ),
        ("POST", "/contacts/search", "contacts.search", endpoints.search_contacts),
        ("GET", "/contacts/{contact_id}", "contacts.get", endpoints.get_contact),
        ("GET", "/contacts/{contact_id}/segments", "contacts.segments", endpoints.contact_segments),
        ("GET", "/contacts/{contact_id}/tags", "contacts.tags", endpoints.contact_tags),
        (
            "GET",
            "/contacts/{contact_id}/companies",
            "contacts.companies",
            endpoints.contact_companies,
        ),
        ("GET", "/admins", "admins.list", endpoints.admins),
        ("GET", "/teams", "teams.list", endpoints.teams),
        ("GET", "/tags", "tags.list", endpoints.tags),
        ("GET", "/segments", "segments.list", endpoints.segments),
        ("GET", "/me", "me", endpoints.me),
    ]
    routes = [route(path, key, handler, method) for method, path, key, handler in table]
    routes.append(control_route(world, config.token))  # moves conversations forward in time
    routes.append(delete_route(world, config.token))  # deletes conversations
    app = _SandboxApp(routes=routes, exception_handlers={HTTPException: unknown_route})
    app.state.stopping = stopping
    return app
