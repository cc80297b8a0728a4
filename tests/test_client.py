"""The client against httpx.MockTransport: pagination, retries, fatal errors, no token leaks."""

import asyncio
import time

import httpx
import pytest
from pydantic import SecretStr

from intercom_enrichment import errors
from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient, tls_context
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.objects.conversations import CONVERSATION

from .fake_intercom import FakeIntercom, contact, conversation, error

TOKEN = "tok-SECRET-123"


def settings(**kw: object) -> IntercomSettings:
    return IntercomSettings(token=SecretStr(TOKEN), base_url="https://api.intercom.io", **kw)


def run(fake: FakeIntercom, coro_fn, **kw: object):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with IntercomClient(
            settings(**kw), budget=RateBudget(), transport=fake.transport()
        ) as client:
            return await coro_fn(client), client

    return asyncio.run(main())


def test_pages_through_many_pages() -> None:
    fake = FakeIntercom([conversation(i, 1000 + i, []) for i in range(47)], token=TOKEN)

    async def pages(client: IntercomClient) -> list[str]:
        return [
            c["id"]
            for p in [
                p
                async for p in client.search_updated(
                    CONVERSATION.search, CONVERSATION.list_key, 0, 10**6, per_page=5
                )
            ]
            for c in p.items
        ]

    ids, client = run(fake, pages)
    assert sorted(ids, key=int) == [str(i) for i in range(47)]
    assert client.stats.requests["conversations.search"] == 10


def test_sends_auth_version_and_json_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=contact("c1"))

    async def main() -> None:
        async with IntercomClient(
            settings(api_version="2.11"),
            budget=RateBudget(),
            transport=httpx.MockTransport(handler),
        ) as c:
            await c.get_contact("c1")

    asyncio.run(main())
    headers = seen[0].headers
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["intercom-version"] == "2.11" and headers["accept"] == "application/json"


def test_retries_transient_errors_then_succeeds() -> None:
    fake = FakeIntercom([], contacts={"c1": contact("c1")}, token=TOKEN)
    fake.fail_next = [error(503, "service_unavailable", "down"), error(502, "bad_gateway", "x")]
    body, client = run(fake, lambda c: c.get_contact("c1"))
    assert body["id"] == "c1"
    assert client.stats.retries == 2 and client.stats.requests["contacts.get"] == 3


def test_429_waits_for_the_reset_instead_of_hammering() -> None:
    fake = FakeIntercom([], contacts={"c1": contact("c1")}, token=TOKEN)
    reset = int(time.time()) + 1
    fake.fail_next = [
        error(
            429,
            "rate_limit_exceeded",
            "Exceeded rate limit of 5 in 10_seconds",
            {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            },
        )
    ]
    body, client = run(fake, lambda c: c.get_contact("c1"))
    assert body["id"] == "c1" and client.stats.rate_limited == 1
    assert time.time() >= reset  # it waited for the window, it did not retry at once
    assert len(fake.requests) == 2  # …and then once: one 429, one answer


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "unauthorized", errors.Unauthorized),
        (403, "api_plan_restricted", errors.Forbidden),
        (400, "intercom_version_invalid", errors.BadRequest),
    ],
)
def test_fatal_errors_stop_at_once(status: int, code: str, expected: type) -> None:
    fake = FakeIntercom([], token=TOKEN)
    fake.fail_next = [error(status, code, "no")] * 10
    with pytest.raises(expected) as info:
        run(fake, lambda c: c.get_contact("c1"))
    assert len(fake.requests) == 1  # no retry storm
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_gives_up_after_max_attempts_with_a_clear_message() -> None:
    fake = FakeIntercom([], token=TOKEN)
    fake.fail_next = [error(500, "server_error", "boom")] * 10
    with pytest.raises(
        errors.ServerError, match=r"GET /contacts/c1: HTTP 500 \[server_error\]: boom"
    ):
        run(fake, lambda c: c.get_contact("c1"), max_attempts=2)
    assert len(fake.requests) == 2


def test_dropped_connections_are_retried() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json=contact("c1"))

    async def main() -> dict:
        async with IntercomClient(
            settings(), budget=RateBudget(), transport=httpx.MockTransport(handler)
        ) as c:
            return await c.get_contact("c1")

    assert asyncio.run(main())["id"] == "c1" and calls["n"] == 2


def test_malformed_json_is_retried_then_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b'{"type": "contact", "id": ', headers={"content-type": "application/json"}
        )

    async def main() -> dict:
        async with IntercomClient(
            settings(max_attempts=2), budget=RateBudget(), transport=httpx.MockTransport(handler)
        ) as c:
            return await c.get_contact("c1")

    with pytest.raises(errors.MalformedResponse):
        asyncio.run(main())


def test_token_never_appears_in_settings_repr() -> None:
    s = settings()
    assert TOKEN not in repr(s) and TOKEN not in str(s) and TOKEN not in s.model_dump_json()
    assert TOKEN not in s.budget_key


def test_429_without_any_hint_backs_off_instead_of_spinning() -> None:
    fake = FakeIntercom([], contacts={"c1": contact("c1")}, token=TOKEN)
    fake.fail_next = [error(429, "rate_limit_exceeded", "slow down")] * 2  # no headers at all
    started = time.monotonic()
    body, client = run(fake, lambda c: c.get_contact("c1"))
    assert body["id"] == "c1" and client.stats.rate_limited == 2
    assert time.monotonic() - started >= 0.5  # two exponential back-offs, not two instant retries


def test_every_client_of_a_process_shares_one_tls_context() -> None:
    """Building a TLS context costs ~30 ms of CPU; a window opens a client per step."""
    settings = IntercomSettings(token=SecretStr("t"), base_url="https://api.intercom.io")

    async def context() -> object:
        async with IntercomClient(settings, budget=RateBudget()) as client:
            assert client._http is not None
            return client._http._transport._pool._ssl_context  # type: ignore[attr-defined]

    first, second = asyncio.run(context()), asyncio.run(context())
    assert first is second is tls_context()
