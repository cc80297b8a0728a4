"""Async Intercom REST client: bearer auth, pinned version, paced by a shared rate budget.

One ``IntercomClient`` lives inside one event loop (``async with``); it is never passed between
tasks or loops. Requests are retried by tenacity on ``RetryableError`` only; a 429 waits for the
window's reset through the budget, other transient errors back off exponentially with jitter.
"""

import asyncio
import functools
import logging
import os
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import certifi
import httpx
from pydantic import ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from intercom_enrichment import __version__
from intercom_enrichment.errors import (
    IntercomError,
    MalformedResponse,
    NotIntercom,
    RateLimited,
    RetryableError,
    TransportError,
    WaitTooLong,
    classify,
)
from intercom_enrichment.objects.common import SearchPage
from intercom_enrichment.objects.declaration import Endpoint
from intercom_enrichment.signals import cancellable

from .budget import RateBudget, shared_budget
from .ids import is_plain_id, path_segment
from .paging import PageGuard
from .responses import complete, json_object, rate_headers, read_body
from .settings import CONTACT_SEARCH_MAX_IDS, SEARCH_PAGE_SIZE, IntercomSettings

log = logging.getLogger(__name__)

LIST_MAX_PAGES = 50  # a workspace list or a contact's companies: pages read at most
LIST_PER_PAGE = 50
COMPANY_LISTS = ("companies", "data")  # GET /contacts/{id}/companies: schema, example

_backoff = wait_exponential_jitter(multiplier=0.5, max=20.0, jitter=0.5)


@dataclass
class RequestStats:
    """What one client did; summed into the run's metrics."""

    requests: Counter[str] = field(default_factory=Counter)  # by endpoint
    retries: int = 0
    rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0

    def metric_fields(self) -> dict[str, Any]:
        """These counts under their ``EnrichmentMetrics`` field names."""
        return {
            "api_requests": sum(self.requests.values()),
            "api_retries": self.retries,
            "api_rate_limited": self.rate_limited,
            "rate_limit_wait_seconds": self.rate_limit_wait_seconds,
            "requests_by_endpoint": dict(self.requests),
        }


class RequestGate(Protocol):
    """A permit per request from a budget shared beyond this process (a Prefect global
    concurrency limit, in the Prefect layer); the local header-fed budget still paces."""

    async def acquire(self) -> None: ...


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RateLimited) and exc.retry_at is not None and exc.retry_at > time.time():
        return 0.0  # the budget holds the next attempt until the window resets
    return float(_backoff(state))  # no hint, or one already past: back off


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
            timeout=self.settings.timeout_seconds,  # per operation; _send bounds the whole
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            transport=self._transport,
            follow_redirects=False,  # Intercom documents no redirects: a 3xx is an error
            verify=tls_context(),
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

    async def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        lists: tuple[str, ...] = (),
        **kw: Any,
    ) -> dict[str, Any]:
        """One API call, retried on transient errors; returns the JSON object.

        ``lists``: the keys under which the documented versions put the answer's list; a body
        that has a list under none of them is not the answer (``MalformedResponse``, retried
        like any malformed body), never read as an empty list.

        Cancellable by SIGTERM/SIGINT (``signals.cancellable``): the attempt in flight and any
        wait between attempts end at once, as ``Interrupted``.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=_wait,
            before_sleep=self._count_retry,
            reraise=True,
        )
        async with cancellable():
            async for attempt in retrying:
                with attempt:
                    body = await self._send(endpoint, method, path, **kw)
                    if lists and list_key(body, lists) is None:
                        raise MalformedResponse(
                            f"no list under {' or '.join(repr(k) for k in lists)}",
                            method=method,
                            path=path,
                        )
                    return body
        raise AssertionError("unreachable")  # pragma: no cover

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.debug("retrying after %s (attempt %d)", exc, state.attempt_number)

    async def _send(self, endpoint: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """One attempt, bounded in time (INTERCOM_REQUEST_TIMEOUT) and size
        (INTERCOM_MAX_RESPONSE_MB). The budget's reservation ends on every path: ``observe`` as
        soon as headers arrive, ``release`` when none did (error, timeout, cancellation)."""
        if self._http is None:
            raise RuntimeError("IntercomClient must be used with 'async with'")
        where: dict[str, Any] = {"method": method, "path": path}
        async with self._slots:
            await self._permit(**where)
            self.stats.requests[endpoint] += 1
            reserved = True
            try:
                async with asyncio.timeout(self.settings.timeout_seconds):
                    async with self._http.stream(method, path, **kw) as streamed:
                        now = time.time()
                        refused = streamed.status_code == 429
                        self.budget.observe(
                            rate_headers(streamed.headers, now=now, settings=self.settings),
                            rate_limited=refused,
                        )
                        reserved = False
                        # Counted with its headers: a 429 whose body then times out was one.
                        self.stats.rate_limited += refused
                        content = await read_body(streamed, settings=self.settings, **where)
            except TimeoutError:
                raise TransportError(
                    f"no complete answer within {self.settings.timeout_seconds:g} s "
                    "(INTERCOM_REQUEST_TIMEOUT)",
                    **where,
                ) from None
            except httpx.InvalidURL:
                raise NotIntercom(
                    "the request URL is invalid: check INTERCOM_BASE_URL", **where
                ) from None
            except httpx.DecodingError:
                raise MalformedResponse(
                    "the body does not decode (Content-Encoding)", **where
                ) from None
            except httpx.RequestError as exc:  # the type only: the text may quote a header
                raise TransportError(type(exc).__name__, **where) from None
            finally:
                if reserved:
                    self.budget.release()
        response = complete(streamed, content)
        now = time.time()
        error = classify(response, now=now)
        if isinstance(error, RateLimited) and error.retry_at is not None:
            self._check_wait(error.retry_at - now, error)
            self.budget.block_until(error.retry_at)
        if error is not None:
            raise error
        return json_object(content, status=response.status_code, **where)

    async def _permit(self, method: str, path: str) -> None:
        """Wait for the shared gate and the rate budget, never longer than INTERCOM_MAX_WAIT."""
        limit = self.settings.max_wait_seconds
        if self.gate is not None:
            try:
                async with asyncio.timeout(limit):
                    await self.gate.acquire()
            except TimeoutError:
                raise WaitTooLong(
                    f"no permit from the shared budget within {limit:g} s (INTERCOM_MAX_WAIT)",
                    method=method,
                    path=path,
                ) from None
        waited = 0.0
        while (delay := self.budget.reserve()) > 0:
            if waited + delay > limit:
                raise WaitTooLong(
                    f"the rate limit asks for {waited + delay:.0f} s of waiting, more than "
                    f"INTERCOM_MAX_WAIT={limit:g} s",
                    method=method,
                    path=path,
                )
            self.stats.rate_limit_wait_seconds += delay
            waited += delay
            await asyncio.sleep(delay)

    def _check_wait(self, seconds: float, error: IntercomError) -> None:
        limit = self.settings.max_wait_seconds
        if seconds > limit:
            raise WaitTooLong(
                f"HTTP 429 asks to wait {seconds:.0f} s, more than INTERCOM_MAX_WAIT={limit:g} s",
                status=error.status,
                method=error.method,
                path=error.path,
                request_id=error.request_id,
            )

    # -- endpoints ---------------------------------------------------------------------------

    async def _pages(
        self, endpoint: str, path: str, list_key: str, query: dict[str, Any], per_page: int
    ) -> AsyncIterator[SearchPage]:
        """Cursor pagination of one search: the cursor is its only state."""
        cursor: str | None = None
        guard = PageGuard(path, per_page)
        while True:
            pagination: dict[str, Any] = {"per_page": per_page}
            if cursor:
                pagination["starting_after"] = cursor
            body = await self.request(
                endpoint,
                "POST",
                path,
                lists=(list_key,),
                json={"query": query, "pagination": pagination},
            )
            page = _parse(body, list_key, path)
            cursor = page.next_cursor
            guard.check(len(page.items), page.total_count, cursor)
            yield page
            if not cursor:
                return

    def search_updated(
        self,
        search: Endpoint,
        list_key: str,
        lo: int,
        hi: int,
        *,
        per_page: int = SEARCH_PAGE_SIZE,
    ) -> AsyncIterator[SearchPage]:
        """Pages of objects with ``lo < updated_at < hi`` as the server reads ``>``/``<``
        (``POST /conversations/search``, ``/tickets/search``: the ``search_request`` body).

        The docs leave inclusivity open, so callers ask a little wider and filter themselves.
        """
        query = {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": ">", "value": lo},
                {"field": "updated_at", "operator": "<", "value": hi},
            ],
        }
        return self._pages(search.key, search.path, list_key, query, per_page)

    async def search_contacts(self, ids: list[str]) -> list[dict[str, Any]]:
        """Contacts by id with one ``id IN [...]`` search (plus pages, if a server pages them).

        The caller sizes ``ids``: the largest IN list a server takes is undocumented
        (contacts.ChunkSizer finds it).
        """
        # At the client's edge too: lookup_contacts marks these unresolvable before asking.
        ids = [i for i in ids if is_plain_id(i)]
        query = {"field": "id", "operator": "IN", "value": ids}
        pages = self._pages(
            "contacts.search", "/contacts/search", "data", query, CONTACT_SEARCH_MAX_IDS
        )
        return [item async for page in pages for item in page.items]

    async def get_contact(self, contact_id: str) -> dict[str, Any]:
        segment = path_segment("contact", contact_id, template="/contacts/{id}")
        return await self.request("contacts.get", "GET", f"/contacts/{segment}")

    async def get_contact_segments(self, contact_id: str) -> list[dict[str, Any]]:
        segment = path_segment("contact", contact_id, template="/contacts/{id}/segments")
        body = await self.request(
            "contacts.segments", "GET", f"/contacts/{segment}/segments", lists=("data",)
        )
        return list_items(body, ("data",))

    async def get_contact_tags(self, contact_id: str) -> list[dict[str, Any]]:
        """Every tag of a contact, with names (``GET /contacts/{id}/tags``: a ``list``, unpaged;
        Intercom-OpenAPI descriptions/2.16)."""
        segment = path_segment("contact", contact_id, template="/contacts/{id}/tags")
        body = await self.request(
            "contacts.tags", "GET", f"/contacts/{segment}/tags", lists=("data",)
        )
        return list_items(body, ("data",))

    async def get_contact_companies(self, contact_id: str) -> tuple[list[dict[str, Any]], bool]:
        """(companies, complete) of a contact: ``GET /contacts/{id}/companies`` is paged by page
        number (``pages.total_pages``; Intercom-OpenAPI descriptions/2.16); at most
        ``LIST_MAX_PAGES`` pages are read, and ``complete`` says whether that was all. The
        list is under ``companies`` in the schema (``contact_attached_companies``,
        descriptions/2.16/api.intercom.io.yaml line 25473; 2.14 and 2.15 alike) and under
        ``data`` in its example (line 7065): both are read (``COMPANY_LISTS``)."""
        segment = path_segment("contact", contact_id, template="/contacts/{id}/companies")
        return await self.numbered_pages(
            "contacts.companies",
            f"/contacts/{segment}/companies",
            COMPANY_LISTS,
            per_page=LIST_PER_PAGE,
            max_pages=LIST_MAX_PAGES,
        )

    async def numbered_pages(
        self,
        endpoint: str,
        path: str,
        keys: tuple[str, ...],
        *,
        per_page: int,
        max_pages: int,
        params: Mapping[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """(items, complete) of a list paged by page number (``page``, ``per_page``;
        ``pages.total_pages`` and ``pages.next``, a URL: "a response that does not contain a
        next link does not have further data", OpenAPI 2.16 ``pages_link``): pages 1, 2, …
        until a page is empty, the last by ``total_pages``, or names no next page — at most
        ``max_pages``; ``complete`` is False when that bound stopped it. The next link itself
        is never followed (it may name another host): only the page number moves."""
        found: list[dict[str, Any]] = []
        for page in range(1, max_pages + 1):
            body = await self.request(
                endpoint,
                "GET",
                path,
                lists=keys,
                params={**(params or {}), "page": page, "per_page": per_page},
            )
            items = list_items(body, keys)
            found.extend(items)
            total = total_pages(body)
            done = page >= total if total is not None else not _pages(body).get("next")
            if not items or done:
                return found, True
        return found, False

    async def list_all(
        self,
        endpoint: str,
        path: str,
        keys: tuple[str, ...],
        params: Mapping[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """(items, complete) of a workspace list: ``GET /admins`` (``admins``), ``/teams``
        (``teams``), ``/tags`` and ``/segments`` (``data`` / ``segments``), ``/ticket_types``
        and ``/ticket_states`` (``data``; before 2.12 ``ticket_types``), read under the first
        of ``keys`` the body has. None of them is
        paged in Intercom-OpenAPI descriptions/2.16; a ``pages.next.starting_after`` is
        followed all the same, at most ``LIST_MAX_PAGES`` times, never twice the same cursor."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(LIST_MAX_PAGES):
            query = {**(params or {}), **({"starting_after": cursor} if cursor else {})}
            body = await self.request(endpoint, "GET", path, lists=keys, params=query or None)
            found.extend(list_items(body, keys))
            cursor = _next_cursor(body)
            if not cursor or cursor in seen:
                return found, True
            seen.add(cursor)
        return found, False

    async def get_object(self, endpoint: Endpoint, object_id: str, kind: str) -> dict[str, Any]:
        """One object by id (``GET /conversations/{id}``, ``/tickets/{id}``, …): the id enters
        the path only as a checked segment (``ids.path_segment``)."""
        segment = path_segment(kind, object_id, template=endpoint.path)
        return await self.request(
            endpoint.key,
            "GET",
            endpoint.path.replace("{id}", segment),
            params=dict(endpoint.params) or None,
        )

    async def me(self) -> dict[str, Any]:
        """Cheap authenticated call: fails fast on a bad token or a non-Intercom server."""
        return await self.request("me", "GET", "/me")


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, as httpx would build it (certifi's CAs, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR``): building one costs ~30 ms of CPU, and every step of a
    window (listing, each batch, dimensions, companies) opens a client of its own."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    return ssl.create_default_context(cafile=certifi.where())


def list_key(body: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` under which ``body`` holds a list, or None."""
    return next((k for k in keys if isinstance(body.get(k), list)), None)


def list_items(body: dict[str, Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The objects of the list under the first of ``keys`` that holds one (``request``'s
    ``lists`` made sure one does); what is not an object is left out."""
    key = list_key(body, keys)
    return [i for i in body[key] if isinstance(i, dict)] if key else []


def _pages(body: dict[str, Any]) -> dict[str, Any]:
    """The body's ``pages`` object, or ``{}`` where it has none."""
    pages = body.get("pages")
    return pages if isinstance(pages, dict) else {}


def total_pages(body: dict[str, Any]) -> int | None:
    """``pages.total_pages`` of a page-numbered list where it is an integer, else None."""
    return _integer(_pages(body).get("total_pages"))


def per_page(body: dict[str, Any]) -> int | None:
    """``pages.per_page`` of a page-numbered list where it is an integer, else None."""
    return _integer(_pages(body).get("per_page"))


def total_count(body: dict[str, Any]) -> int | None:
    """A list's ``total_count`` where it is an integer, else None."""
    return _integer(body.get("total_count"))


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _next_cursor(body: dict[str, Any]) -> str | None:
    nxt = _pages(body).get("next")
    cursor = nxt.get("starting_after") if isinstance(nxt, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def _parse(body: dict[str, Any], list_key: str, path: str) -> SearchPage:
    try:
        return SearchPage.of(body, list_key)
    except ValidationError as exc:  # the fields, never their values (they may be personal)
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
        fields = [f.replace("items", list_key, 1) for f in fields]
        raise MalformedResponse(
            f"unexpected page shape at {', '.join(fields)}", path=path
        ) from None


async def check_access(settings: IntercomSettings) -> None:
    """One ``GET /me``: a bad token, region, version or base URL fails here, in one line."""
    async with IntercomClient(settings) as client:
        await client.me()
