"""The rate budget, on a fake clock: no sleeping in tests."""

import asyncio
import threading
import time

import httpx
import pytest
from pydantic import SecretStr

from intercom_enrichment import errors
from intercom_enrichment.api.budget import RateBudget, RateHeaders
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import IntercomSettings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_probes_then_spends_exactly_the_allowance() -> None:
    clock = Clock(1000.0)
    budget = RateBudget(clock=clock, probe_concurrency=2, skew_margin=0.1)
    assert budget.reserve() == 0 and budget.reserve() == 0
    assert budget.reserve() > 0  # nothing known yet: no more than the probes in flight
    budget.observe(RateHeaders(limit=5, remaining=4, reset=1010.0))
    budget.observe(RateHeaders(limit=5, remaining=3, reset=1010.0))
    granted = 0
    while budget.reserve() == 0:
        granted += 1
        budget.observe(RateHeaders(limit=5, remaining=3 - granted, reset=1010.0))
    assert granted == 3  # the window's remaining calls, not one more
    assert abs(budget.reserve() - 10.1) < 1e-9  # wait for the reset plus margin
    clock.now = 1010.2
    assert sum(budget.reserve() == 0 for _ in range(7)) == 5  # the next window's full limit


def test_a_429_empties_the_window_and_retry_after_blocks() -> None:
    clock = Clock(0.0)
    budget = RateBudget(clock=clock)
    budget.reserve()
    budget.observe(RateHeaders(limit=100, remaining=50, reset=10.0), rate_limited=True)
    assert budget.reserve() > 9
    budget.block_until(25.0)
    clock.now = 12.0
    assert 12.9 < budget.reserve() <= 13.0


def test_other_clients_usage_lowers_remaining() -> None:
    clock = Clock(0.0)
    budget = RateBudget(clock=clock)
    budget.reserve()
    budget.observe(RateHeaders(limit=100, remaining=90, reset=10.0))
    budget.reserve()
    budget.observe(RateHeaders(limit=100, remaining=10, reset=10.0))  # someone else spent 79
    assert sum(budget.reserve() == 0 for _ in range(20)) == 10


class WatchedClock(Clock):
    """A fake clock that notices when two threads are inside the budget at once: it is read
    inside ``reserve``'s critical section, and it yields the CPU there for a moment."""

    def __init__(self, now: float) -> None:
        super().__init__(now)
        self._guard = threading.Lock()
        self.inside = 0
        self.overlaps = 0

    def __call__(self) -> float:
        with self._guard:
            self.inside += 1
            self.overlaps += self.inside > 1
        time.sleep(0.0002)  # another thread would get in here, were the budget unguarded
        with self._guard:
            self.inside -= 1
        return self.now


def test_threads_never_overspend() -> None:
    clock = WatchedClock(0.0)
    budget = RateBudget(clock=clock, burst=1000)  # the clock stands still: no pacing here
    budget.reserve()
    budget.observe(RateHeaders(limit=1000, remaining=150, reset=10.0))
    granted: list[int] = []
    start = threading.Barrier(6)

    def worker() -> None:
        start.wait()
        granted.append(sum(budget.reserve() == 0 for _ in range(40)))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.overlaps == 0  # one thread at a time in the budget's accounting
    assert sum(granted) == 150 == budget.in_flight  # not one call more than the window allows


# -- every reservation ends: answers, errors, cancellations --------------------------------------


def _settings(attempts: int = 1) -> IntercomSettings:
    return IntercomSettings(
        token=SecretStr("tok-budget"), base_url="https://api.intercom.io", max_attempts=attempts
    )


def test_cancelled_requests_give_their_reservations_back() -> None:
    budget = RateBudget(probe_concurrency=8)
    entered = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal entered
        entered += 1
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    async def main() -> None:
        async with IntercomClient(
            _settings(), budget=budget, transport=httpx.MockTransport(handler)
        ) as client:
            calls = [asyncio.ensure_future(client.get_contact(f"c{i}")) for i in range(20)]
            while entered < 8:  # every probe the budget allows is on the wire
                await asyncio.sleep(0)
            assert budget.in_flight == 8
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)

    asyncio.run(main())
    assert budget.in_flight == 0


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (httpx.ConnectError("refused"), errors.TransportError),
        (httpx.ReadTimeout("slow"), errors.TransportError),
        (httpx.DecodingError("bad gzip"), errors.MalformedResponse),
        (httpx.RemoteProtocolError("half a response"), errors.TransportError),
        (httpx.TooManyRedirects("loop"), errors.TransportError),
    ],
)
def test_failed_requests_give_their_reservations_back(
    failure: httpx.RequestError, raised: type[errors.IntercomError]
) -> None:
    budget = RateBudget(probe_concurrency=8)

    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    async def main() -> list[BaseException | dict[str, object]]:
        async with IntercomClient(
            _settings(attempts=2), budget=budget, transport=httpx.MockTransport(handler)
        ) as client:
            calls = (client.get_contact(f"c{i}") for i in range(30))
            return list(await asyncio.gather(*calls, return_exceptions=True))

    outcomes = asyncio.run(main())
    assert all(type(o) is raised for o in outcomes), {type(o) for o in outcomes}
    assert budget.in_flight == 0  # 60 attempts, none of them still counted


def test_answered_requests_end_their_reservations() -> None:
    budget = RateBudget()
    headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "1"}

    def handler(request: httpx.Request) -> httpx.Response:
        status = 500 if request.url.path.endswith("5") else 200
        return httpx.Response(status, json={"type": "contact", "id": "c"}, headers=headers)

    async def main() -> None:
        async with IntercomClient(
            _settings(), budget=budget, transport=httpx.MockTransport(handler)
        ) as client:
            calls = (client.get_contact(f"c{i}") for i in range(30))
            await asyncio.gather(*calls, return_exceptions=True)

    asyncio.run(main())
    assert budget.in_flight == 0


# -- pacing: spread the window's calls; share it with other callers ---------------------------


def _spend(budget: RateBudget, clock: Clock, until: float, *, answer: object = None) -> list[float]:
    """Reserve as fast as the budget allows (advancing the fake clock by each wait) until
    ``until``; returns the times of the calls granted. ``answer(budget)`` plays the server."""
    granted: list[float] = []
    while clock.now < until:
        wait = budget.reserve()
        if wait == 0:
            granted.append(clock.now)
            if callable(answer):
                answer(budget)
        else:
            clock.now += wait
    return granted


def test_a_window_is_spent_evenly_not_in_one_burst() -> None:
    clock = Clock(0.0)
    budget = RateBudget(clock=clock, burst=10, skew_margin=0.1)
    budget.reserve()
    budget.observe(RateHeaders(limit=100, remaining=100, reset=10.0))
    granted = _spend(budget, clock, 10.0)
    assert len(granted) == 100  # the whole allowance, within its window
    assert sum(t < 1.0 for t in granted) <= 10 + 11  # the burst, then about the even pace
    assert sum(t < 5.0 for t in granted) <= 10 + 50
    assert sum(t >= 5.0 for t in granted) >= 40  # the second half is not left empty


def test_a_busy_moment_may_run_a_tenth_of_the_window_ahead_of_the_pace() -> None:
    """A batch that wants many calls at once (its contacts' GETs) gets up to a tenth of the
    window's allowance at once (``BURST_SHARE``), not ten calls and then the pace."""
    clock = Clock(0.0)
    budget = RateBudget(clock=clock, burst=10, skew_margin=0.1)
    budget.reserve()
    budget.observe(RateHeaders(limit=1666, remaining=1666, reset=10.0))
    at_once = 0
    while budget.reserve() == 0:
        at_once += 1
    assert 160 <= at_once <= 185  # about a tenth (the pace slows a little as it is spent)
    assert len(_spend(budget, clock, 10.0)) + at_once <= 1666  # still within the window


def test_callers_that_share_the_window_back_off_together() -> None:
    """Remaining falls twice as fast as our own calls explain: another caller of the app spends
    as much as we do. We then pace to half of what is left, and notice it."""
    clock = Clock(0.0)
    budget = RateBudget(clock=clock, burst=10, skew_margin=0.1)
    budget.reserve()
    budget.observe(RateHeaders(limit=300, remaining=300, reset=10.0))
    server = {"remaining": 300}

    def answer(b: RateBudget) -> None:  # the other caller spends one call for each of ours
        server["remaining"] -= 2
        b.observe(RateHeaders(limit=300, remaining=server["remaining"], reset=10.0))

    granted = _spend(budget, clock, 10.0, answer=answer)
    assert 1.8 <= budget.callers <= 2.2
    assert 120 <= len(granted) <= 160  # about half of the window: our share, no more
    assert server["remaining"] >= 0  # together we never overspent the app's window
