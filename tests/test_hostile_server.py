"""The client against a real server on loopback that misbehaves on purpose (issue 9): every
case ends within its configured bound, as a clean error of the error tree (or a result), and the
token is in no error. Every test runs under a deadline (``asyncio.timeout``)."""

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from intercom_enrichment import errors, signals
from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.contact_search import ChunkSizer
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.lookup import lookup_contacts
from intercom_enrichment.objects.conversations import CONVERSATION

from .fake_intercom import contact
from .misbehaving_intercom import (
    TOKEN,
    MisbehavingServer,
    Reply,
    Request,
    error_reply,
    misbehaving,
    reply_json,
    search_page,
    world,
)

DEADLINE = 20.0


def call(
    server: MisbehavingServer,
    fn: Callable[[IntercomClient], Awaitable[Any]],
    *,
    budget: RateBudget | None = None,
    **settings: Any,
) -> Any:
    async def main() -> Any:
        async with asyncio.timeout(DEADLINE):
            config = IntercomSettings(token=SecretStr(TOKEN), base_url=server.url, **settings)
            async with IntercomClient(config, budget=budget or RateBudget()) as client:
                return await fn(client)

    return asyncio.run(main())


def fails(
    handler: Callable[[Request], Reply],
    fn: Callable[[IntercomClient], Awaitable[Any]],
    expected: type[Exception],
    **settings: Any,
) -> tuple[Exception, MisbehavingServer]:
    with misbehaving(handler) as server, pytest.raises(expected) as info:
        call(server, fn, **settings)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert "\n" not in str(info.value) and "\r" not in str(info.value)
    return info.value, server


async def all_pages(client: IntercomClient) -> int:
    pages = client.search_updated(CONVERSATION.search, CONVERSATION.list_key, 0, 2**31)
    return len([p async for p in pages])


# -- pagination guards ------------------------------------------------------------------------


def test_a_repeated_cursor_stops_the_search() -> None:
    exc, server = fails(
        lambda r: search_page(world(1), 1000, "same-cursor"),
        all_pages,
        errors.BrokenPagination,
    )
    assert "repeated a cursor" in str(exc)
    assert len(server.seen("/conversations/search")) == 2


def test_empty_pages_that_name_a_cursor_stop_the_search() -> None:
    pages = iter(range(10**6))
    exc, server = fails(
        lambda r: search_page([], 1000, f"c{next(pages)}"), all_pages, errors.BrokenPagination
    )
    assert "3 empty pages" in str(exc)
    assert len(server.seen("/conversations/search")) == 3


def test_far_more_pages_than_total_count_allows_stop_the_search() -> None:
    pages = iter(range(10**6))
    exc, server = fails(
        lambda r: search_page(world(1), 3, f"c{next(pages)}"), all_pages, errors.BrokenPagination
    )
    assert "total_count 3" in str(exc)
    assert len(server.seen("/conversations/search")) == 11  # ceil(3 / 150) + 10 pages of slack


def test_a_contact_search_that_loops_falls_back_to_single_gets() -> None:
    def handler(request: Request) -> Reply:
        if request.path == "/contacts/search":
            return reply_json(
                {"type": "list", "data": [], "pages": {"next": {"starting_after": "x"}}}
            )
        return reply_json(contact(request.path.rsplit("/", 1)[1]))

    ids = [f"{i:024x}" for i in range(3)]
    with misbehaving(handler) as server:
        lookup = call(server, lambda c: lookup_contacts(c, ids))
    assert sorted(lookup.found) == ids and not lookup.failed
    assert len(server.seen("/contacts/search")) == 2  # the repeat is caught on the second page


# -- rate-limit hints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "1000000000"},
        {"X-RateLimit-Reset": str(int(time.time()) + 30 * 365 * 86400)},
    ],
    ids=["retry-after-1e9", "reset-decades-away"],
)
def test_a_hint_beyond_max_wait_fails_at_once(headers: dict[str, str]) -> None:
    exc, server = fails(
        lambda r: error_reply(429, "rate_limit_exceeded", headers),
        lambda c: c.get_contact("c1"),
        errors.WaitTooLong,
        max_wait_seconds=60,
    )
    assert "INTERCOM_MAX_WAIT=60 s" in str(exc)
    assert len(server.seen()) == 1  # no retry, no sleep


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Retry-After", "inf"),
        ("Retry-After", "nan"),
        ("Retry-After", "-5"),
        ("Retry-After", "1e999"),
        ("Retry-After", "soon"),
        ("X-RateLimit-Reset", "-inf"),
        ("X-RateLimit-Reset", "30"),  # seconds, not a UNIX time: already past
    ],
)
def test_a_hint_that_is_not_a_usable_number_counts_as_absent(name: str, value: str) -> None:
    replies = [error_reply(429, "rate_limit_exceeded", {name: value})]

    def handler(request: Request) -> Reply:
        return replies.pop() if replies else reply_json(contact("c1"))

    with misbehaving(handler) as server:
        body = call(server, lambda c: c.get_contact("c1"), max_attempts=2)
    assert body["id"] == "c1" and len(server.seen()) == 2
    first, second = (r.at for r in server.seen())
    assert second - first >= 0.25  # backed off (0.5 s or more), not retried at once


def test_a_far_reset_on_a_success_is_ignored_rather_than_waited_for() -> None:
    far = str(int(time.time()) + 10**9)
    rate = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": far}

    async def twice(client: IntercomClient) -> float:
        await client.get_contact("c1")
        await client.get_contact("c1")
        return client.stats.rate_limit_wait_seconds

    with misbehaving(lambda r: reply_json(contact("c1"), headers=rate)) as server:
        assert call(server, twice) == 0.0


# -- bodies -----------------------------------------------------------------------------------


def test_a_trickled_body_times_out_as_a_whole() -> None:
    body = reply_json(contact("c1")).body
    exc, server = fails(
        lambda r: Reply(body=body, trickle_seconds=0.2),
        lambda c: c.get_contact("c1"),
        errors.TransportError,
        timeout_seconds=1.0,
        max_attempts=2,
    )
    assert "no complete answer within 1 s (INTERCOM_REQUEST_TIMEOUT)" in str(exc)
    assert len(server.seen()) == 2


def test_a_request_without_an_answer_releases_its_reservation() -> None:
    budget = RateBudget(probe_concurrency=1)  # a leaked reservation would block the next one
    fails(
        lambda r: Reply(hang=True),
        lambda c: c.get_contact("c1"),
        errors.TransportError,
        timeout_seconds=0.5,
        max_attempts=2,
        budget=budget,
    )
    assert budget.reserve() == 0.0


def test_a_declared_oversized_body_is_refused_before_it_is_read() -> None:
    exc, _ = fails(
        lambda r: Reply(body=b"{}", headers={"Content-Length": str(10 * 2**20)}),
        lambda c: c.get_contact("c1"),
        errors.ResponseTooLarge,
        max_response_mb=1,
        max_attempts=2,
    )
    assert "INTERCOM_MAX_RESPONSE_MB" in str(exc)


def test_an_oversized_body_once_is_retried_and_the_next_answer_used() -> None:
    """A proxy that once sent garbage: the cap cuts that attempt, the next one is right."""
    answers = [Reply(body=b"{}", headers={"Content-Length": str(10 * 2**20)})]

    def handler(request: Request) -> Reply:
        return answers.pop() if answers else Reply(body=json.dumps(contact("c1")).encode())

    with misbehaving(handler) as server:
        found = call(server, lambda c: c.get_contact("c1"), max_response_mb=1)
    assert found["id"] == "c1" and len(server.seen("/contacts/c1")) == 2


def test_a_streamed_oversized_body_is_cut_off_at_the_cap() -> None:
    total = 256 * 2**20
    _, server = fails(
        lambda r: Reply(body=b'{"id": "', stream_bytes=total, declare_length=False),
        lambda c: c.get_contact("c1"),
        errors.ResponseTooLarge,
        max_response_mb=1,
        max_attempts=1,
    )
    assert server.bytes_sent < total // 8  # the client hung up; it did not read it all


def test_a_compressed_body_is_capped_by_its_decoded_size() -> None:
    bomb = gzip.compress(b'{"id": "' + b"0" * (16 * 2**20) + b'"}')  # 16 MB in about 16 KB
    exc, _ = fails(
        lambda r: Reply(body=bomb, headers={"Content-Encoding": "gzip"}),
        lambda c: c.get_contact("c1"),
        errors.ResponseTooLarge,
        max_response_mb=1,
        max_attempts=1,
    )
    assert len(bomb) < 2**20 and "INTERCOM_MAX_RESPONSE_MB" in str(exc)


def test_a_body_that_does_not_decode_is_a_malformed_response() -> None:
    exc, _ = fails(
        lambda r: Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}),
        lambda c: c.get_contact("c1"),
        errors.MalformedResponse,
        max_attempts=1,
    )
    assert "does not decode" in str(exc)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"id": "\xff\xfe\xfa"}', "not a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON object"),
    ],
    ids=["not-utf8", "lists-100000-deep"],
)
def test_unparseable_bodies_are_malformed_responses(body: bytes, needle: str) -> None:
    exc, _ = fails(
        lambda r: Reply(body=body),
        lambda c: c.get_contact("c1"),
        errors.MalformedResponse,
        max_attempts=1,
    )
    assert needle in str(exc)


def test_an_object_nested_5000_deep_is_cut_for_its_record_to_be_quarantined() -> None:
    """Too deep for ``json.loads``, yet not the page's fault: the value beyond the parse depth
    is cut (guards.parse_json), so the one record holding it is quarantined downstream."""
    body = b'{"type": "contact", "id": "c1", "a": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001
    with misbehaving(lambda r: Reply(body=body)) as server:
        answer = call(server, lambda c: c.get_contact("c1"), max_attempts=1)
    assert answer["id"] == "c1"
    depth, value = 0, answer["a"]
    while isinstance(value, dict):
        depth, value = depth + 1, value["a"]
    assert value == "…" and depth < 5000  # cut, and marked so


def test_a_deeply_nested_error_body_is_still_a_clean_error() -> None:
    fails(
        lambda r: Reply(status=500, body=b"[" * 50_000 + b"]" * 50_000),
        lambda c: c.get_contact("c1"),
        errors.ServerError,
        max_attempts=1,
    )


# -- ids, redirects, links --------------------------------------------------------------------

BAD_IDS = ["../../me", "..", "a/b", "a\x00b", "a\r\nb", "x" * 200_000, "", "a b", "%2e%2e"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=range(len(BAD_IDS)))
@pytest.mark.parametrize("endpoint", ["get_contact", "get_contact_segments", "get_conversation"])
def test_an_id_that_is_not_plain_is_never_sent(bad: str, endpoint: str) -> None:
    def ask(client: IntercomClient) -> Any:
        if endpoint == "get_conversation":
            return client.get_object(CONVERSATION.get, bad, CONVERSATION.kind)
        return getattr(client, endpoint)(bad)

    exc, server = fails(
        lambda r: reply_json(contact("c1")),
        ask,
        errors.InvalidId,
    )
    assert server.seen() == []
    assert len(str(exc)) < 200 and "\x00" not in str(exc)


def test_a_lookup_with_bad_ids_completes_for_the_good_ones() -> None:
    good = f"{7:024x}"
    with misbehaving(lambda r: reply_json({"type": "list", "data": []})) as server:
        server.handler = lambda r: (
            reply_json({"type": "list", "data": []})
            if r.path == "/contacts/search"
            else reply_json(contact(good))
        )
        lookup = call(server, lambda c: lookup_contacts(c, ["../../me", good, "a\r\nb"]))
    assert list(lookup.found) == [good]
    assert set(lookup.unresolvable) == {"../../me", "a\r\nb"}  # permanent: not "failed"
    assert not lookup.failed
    assert all(".." not in r.target and "\r" not in r.target for r in server.seen())
    searched = server.seen("/contacts/search")[0].json()["query"]["value"]
    assert searched == [good]


def test_a_redirect_is_an_error_and_is_not_followed() -> None:
    exc, server = fails(
        lambda r: Reply(status=302, headers={"Location": "http://127.0.0.1:9/contacts/c1"}),
        lambda c: c.get_contact("c1"),
        errors.NotIntercom,
    )
    assert "redirect (not followed)" in str(exc) and len(server.seen()) == 1


@pytest.mark.parametrize(
    ("link", "followed"),
    [
        ('<https://elsewhere.example/contacts/abc123>; rel="canonical"', False),
        ('<//elsewhere.example/contacts/abc123>; rel="canonical"', False),
        ('</contacts/..%2F..%2Fme>; rel="canonical"', False),
        ('</contacts/abc123>; rel="canonical"', True),
    ],
)
def test_a_merged_contact_is_followed_only_to_a_relative_plain_id(
    link: str, followed: bool
) -> None:
    merged = f"{1:024x}"

    def handler(request: Request) -> Reply:
        if request.path == "/contacts/search":
            return reply_json({"type": "list", "data": []})
        if request.path == f"/contacts/{merged}":
            return error_reply(410, "contact_merged", {"Link": link})
        return reply_json(contact(request.path.rsplit("/", 1)[1]))

    with misbehaving(handler) as server:
        lookup = call(server, lambda c: lookup_contacts(c, [merged]))
    gets = [r.target for r in server.seen() if r.method == "GET"]
    if followed:
        assert lookup.found[merged].id == "abc123" and gets[-1] == "/contacts/abc123"
    else:
        assert merged in lookup.unresolvable and gets == [f"/contacts/{merged}"]


# -- cancellation -----------------------------------------------------------------------------


def test_a_stop_request_cancels_a_request_in_flight() -> None:
    budget = RateBudget(probe_concurrency=1)
    with misbehaving(lambda r: Reply(hang=True)) as server, signals.run_scope() as scope:
        stopper = threading.Thread(
            target=lambda: (server.wait_for("/contacts/c1"), scope.request_stop())
        )
        stopper.start()
        try:
            with pytest.raises(errors.Interrupted, match="in-flight requests cancelled"):
                call(server, lambda c: c.get_contact("c1"), budget=budget)
            with pytest.raises(errors.Interrupted):  # and nothing new starts
                call(server, lambda c: c.get_contact("c1"), budget=budget)
        finally:
            stopper.join(5)
    assert len(server.seen()) == 1
    assert budget.reserve() == 0.0


def test_an_interrupted_run_does_not_stop_the_next_run_of_the_process() -> None:
    """A long-lived process (``flow.serve()``, a worker) runs many flows: the stop of one
    interrupted run is that run's, and the next one's requests go through."""

    @signals.cancels_requests_when_interrupted
    def flow_run(interrupt: bool) -> Any:
        if interrupt:
            raise KeyboardInterrupt  # Prefect's TerminationSignal is a BaseException too
        return call(server, lambda c: c.get_contact("c1"))

    with misbehaving(lambda r: reply_json(contact("c1"))) as server:
        with pytest.raises(KeyboardInterrupt):
            flow_run(True)
        assert flow_run(False)["id"] == "c1"
        assert not signals.stop_requested()


def test_a_fatal_error_cancels_the_lookups_still_in_flight() -> None:
    """A 401 to one contact ends the lookup at once, and the other requests are cancelled,
    not left running on the rate budget (``asyncio.gather`` left them; a TaskGroup does not)."""

    def handler(request: Request) -> Reply:
        return (
            error_reply(401, "unauthorized") if request.path.endswith("/c1") else Reply(hang=True)
        )

    async def lookup(client: IntercomClient) -> list[asyncio.Task[Any]]:
        with pytest.raises(errors.Unauthorized):
            await lookup_contacts(client, ["c1", "c2", "c3"], sizer=_no_search())
        await asyncio.sleep(0)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    with misbehaving(handler) as server:
        assert call(server, lookup, max_attempts=1) == []


def _no_search() -> ChunkSizer:
    sizer = ChunkSizer()
    sizer.fails = 0  # refused even at the floor: every id is a single GET
    return sizer


def test_a_429_whose_body_never_arrives_is_counted_as_rate_limited() -> None:
    """Counted when its headers arrive: the server refused the call, whether or not the body
    then came (a fault matrix run under load counted 10 of 12 before)."""
    body = json.dumps({"type": "error.list", "errors": [{"code": "rate_limit_exceeded"}]})

    async def counted(client: IntercomClient) -> int:
        with pytest.raises(errors.TransportError):
            await client.get_contact("c1")
        return client.stats.rate_limited

    with misbehaving(lambda r: Reply(429, body.encode(), trickle_seconds=0.3)) as server:
        assert call(server, counted, timeout_seconds=0.5, max_attempts=1) == 1
        assert len(server.seen()) == 1
