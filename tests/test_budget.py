"""The rate budget, on a fake clock: no sleeping in tests."""

import threading

from intercom_enrichment.budget import RateBudget, RateHeaders


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


def test_threads_never_overspend() -> None:
    clock = Clock(0.0)
    budget = RateBudget(clock=clock)
    budget.reserve()
    budget.observe(RateHeaders(limit=1000, remaining=500, reset=10.0))
    granted: list[int] = []

    def worker() -> None:
        granted.append(sum(budget.reserve() == 0 for _ in range(200)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 500
