"""Async Intercom REST client: bearer auth, pinned version, paced by a shared rate budget.

One ``IntercomClient`` lives inside one event loop (``async with``); it is never passed between
tasks or loops. Requests are retried by tenacity on ``RetryableError`` only; a 429 waits for the
window's reset through the budget, other transient errors back off exponentially with jitter.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from . import __version__
from .budget import RateBudget, RateHeaders, shared_budget
from .errors import (
    MalformedResponse,
    RateLimited,
    RetryableError,
    TransportError,
    classify,
)
from .guards import parse_json
from .models import ContactPage, ConversationPage
from .settings import CONTACT_SEARCH_MAX_IDS, SEARCH_PAGE_SIZE, IntercomSettings

log = logging.getLogger(__name__)

PageT = TypeVar("PageT", ConversationPage, ContactPage)

_backoff = wait_exponential_jitter(multiplier=0.5, max=20.0, jitter=0.5)


@dataclass
class RequestStats:
    """What one client did; summed into the run's metrics."""

    requests: Counter[str] = field(default_factory=Counter)  # by endpoint
    retries: int = 0
    rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0


class RequestGate(Protocol):
    """A permit per request from a budget shared beyond this process (a Prefect global
    concurrency limit, in the Prefect layer); the local header-fed budget still paces."""

    async def acquire(self) -> None: ...


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RateLimited) and exc.retry_at is not None:
        return 0.0  # the budget holds the next attempt until the window resets
    return float(_backoff(state))  # no hint when to come back: back off


class IntercomClient:
    def __init__(
        self,
        settings: IntercomSettings,
        *,
        budget: RateBudget | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        gate: RequestGate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate
        self.budget = budget if budget is not None else shared_budget(settings.budget_key)
        self.stats = RequestStats()
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(settings.max_concurrency)

    async def __aenter__(self) -> "IntercomClient":
        limit = self.settings.max_concurrency
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            headers={
                "Authorization": f"Bearer {self.settings.token.get_secret_value()}",
                "Accept": "application/json",
                "Intercom-Version": self.settings.api_version,
                "User-Agent": f"intercom-enrichment/{__version__}",
            },
            timeout=self.settings.timeout_seconds,
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            transport=self._transport,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- transport ---------------------------------------------------------------------------

    async def request(self, endpoint: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """One API call, retried on transient errors; returns the JSON object."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=_wait,
            before_sleep=self._count_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send(endpoint, method, path, **kw)
        raise AssertionError("unreachable")  # pragma: no cover

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.debug("retrying after %s (attempt %d)", exc, state.attempt_number)

    async def _send(self, endpoint: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
        if self._http is None:
            raise RuntimeError("IntercomClient must be used with 'async with'")
        async with self._slots:
            if self.gate is not None:
                await self.gate.acquire()
            while (delay := self.budget.reserve()) > 0:
                self.stats.rate_limit_wait_seconds += delay
                await asyncio.sleep(delay)
            self.stats.requests[endpoint] += 1
            answered = False
            try:  # the reservation ends on every path: answer, error or cancellation
                response = await self._http.request(method, path, **kw)
                self.budget.observe(
                    RateHeaders.parse(response.headers), rate_limited=response.status_code == 429
                )
                answered = True
            except httpx.RequestError as exc:
                raise _request_error(exc, method, path) from None
            finally:
                if not answered:
                    self.budget.release()
        error = classify(response, now=time.time())
        if isinstance(error, RateLimited):
            self.stats.rate_limited += 1
            if error.retry_at is not None:
                self.budget.block_until(error.retry_at)
        if error is not None:
            raise error
        try:
            body = parse_json(response.content)  # guards: a too-deep record is not the page's fault
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MalformedResponse(
                "response body is not a JSON object",
                status=response.status_code,
                method=method,
                path=path,
            )
        return body

    # -- endpoints ---------------------------------------------------------------------------

    async def _pages(
        self, endpoint: str, path: str, query: dict[str, Any], per_page: int, model: type[PageT]
    ) -> AsyncIterator[PageT]:
        """Cursor pagination of one search: the cursor is its only state."""
        cursor: str | None = None
        while True:
            pagination: dict[str, Any] = {"per_page": per_page}
            if cursor:
                pagination["starting_after"] = cursor
            body = await self.request(
                endpoint, "POST", path, json={"query": query, "pagination": pagination}
            )
            page = _parse(model, body, path)
            yield page
            cursor = page.next_cursor
            if not cursor:
                return

    def search_conversations(
        self, lo: int, hi: int, *, per_page: int = SEARCH_PAGE_SIZE
    ) -> AsyncIterator[ConversationPage]:
        """Pages of conversations with ``lo < updated_at < hi`` as the server reads ``>``/``<``.

        The docs leave inclusivity open, so callers ask a little wider and filter themselves.
        """
        query = {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": ">", "value": lo},
                {"field": "updated_at", "operator": "<", "value": hi},
            ],
        }
        return self._pages(
            "conversations.search", "/conversations/search", query, per_page, ConversationPage
        )

    async def search_contacts(self, ids: list[str]) -> list[dict[str, Any]]:
        """Contacts by id, in one call per 150 ids (plus pages, if a server pages them)."""
        found: list[dict[str, Any]] = []
        for offset in range(0, len(ids), CONTACT_SEARCH_MAX_IDS):
            query = {
                "field": "id",
                "operator": "IN",
                "value": ids[offset : offset + CONTACT_SEARCH_MAX_IDS],
            }
            pages = self._pages(
                "contacts.search", "/contacts/search", query, CONTACT_SEARCH_MAX_IDS, ContactPage
            )
            async for page in pages:
                found.extend(page.data)
        return found

    async def get_contact(self, contact_id: str) -> dict[str, Any]:
        return await self.request("contacts.get", "GET", f"/contacts/{contact_id}")

    async def get_contact_segments(self, contact_id: str) -> list[dict[str, Any]]:
        body = await self.request("contacts.segments", "GET", f"/contacts/{contact_id}/segments")
        data = body.get("data")
        return [s for s in data if isinstance(s, dict)] if isinstance(data, list) else []

    async def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        return await self.request(
            "conversations.get",
            "GET",
            f"/conversations/{conversation_id}",
            params={"display_as": "plaintext"},
        )

    async def me(self) -> dict[str, Any]:
        """Cheap authenticated call: fails fast on a bad token or a non-Intercom server."""
        return await self.request("me", "GET", "/me")


def _request_error(exc: httpx.RequestError, method: str, path: str) -> RetryableError:
    """Every failure of httpx to get an answer, in the error tree (retryable: another attempt
    may get one). A body httpx could not decode is a malformed response, the rest transport."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.DecodingError):
        return MalformedResponse(text, method=method, path=path)
    return TransportError(text, method=method, path=path)


def _parse(model: type[PageT], body: dict[str, Any], path: str) -> PageT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:  # the fields, never their values (they may be personal)
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
        raise MalformedResponse(
            f"unexpected page shape at {', '.join(fields)}", path=path
        ) from None


async def check_access(settings: IntercomSettings) -> None:
    """One ``GET /me``: a bad token, region, version or base URL fails here, in one line."""
    async with IntercomClient(settings) as client:
        await client.me()
