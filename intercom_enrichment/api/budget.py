"""A rate budget fed by Intercom's ``X-RateLimit-*`` headers, shared across threads.

Intercom counts calls in fixed 10-second windows and tells, on every response, how many calls
are left (``X-RateLimit-Remaining``) and when the window refills (``X-RateLimit-Reset``). The
budget spends that allowance without probing by failure: each request reserves one call; when
none is left it waits until the window's reset (plus a small margin for clock skew), and every
response corrects the count.

A window's steps run in more than one thread, each with its own event loop (the listing in the
flow's, the batches on the shared loop's, a backfill's windows side by side), so the state is
guarded by a ``threading.Lock`` and waiting is left to the caller (``await
asyncio.sleep(delay)``): the budget itself never sleeps. One budget exists per app and process
(``shared_budget``).
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

WINDOW_SECONDS = 10.0
MIN_SAMPLE = 10  # own calls in a window before its use by others is estimated
BURST_SHARE = 0.1  # of a window's allowance (our share of it) that may run ahead of the pace


@dataclass(frozen=True)
class RateHeaders:
    limit: int
    remaining: int
    reset: float

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> "RateHeaders | None":
        try:
            return cls(
                limit=int(headers["x-ratelimit-limit"]),
                remaining=int(headers["x-ratelimit-remaining"]),
                reset=float(headers["x-ratelimit-reset"]),
            )
        except (KeyError, ValueError):
            return None


class RateBudget:
    """Thread-safe accounting of the calls left in the current rate-limit window.

    ``reserve()`` returns 0.0 when a call may go now (and counts it), otherwise the seconds to
    wait before asking again. ``observe()`` feeds the headers of every response; ``release()``
    ends a reservation that got no response.

    Pacing: the calls left are spread evenly until the window's reset (a generic cell-rate
    algorithm; a tenth of our share of the window's allowance, ``BURST_SHARE``, and at least
    ``burst`` calls, may run ahead of that pace) instead of being spent in one burst, so that
    several processes on one app do not all empty the window at its start and then collide. A
    tenth, not a fixed ten calls: a batch asks for its contacts all at once, and at 1,666 calls
    per 10 s ten calls ahead of the pace held S1's batches back by thousands of waits of a few
    milliseconds each (benchmarks/phases.py). And since ``X-RateLimit-Remaining`` counts every
    caller of the app, the budget notices when it falls faster than its own spending explains,
    estimates how many callers share the window, and paces itself to its share: the processes
    back off together.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        skew_margin: float = 0.1,
        probe_concurrency: int = 8,
        burst: int = 10,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._margin = skew_margin  # wait this long past a reset before trusting it
        self._probe = probe_concurrency  # in flight before the first headers arrive
        self._burst = burst  # calls that may go ahead of the even pace
        self._limit: int | None = None
        self._remaining = 0
        self._reset = 0.0
        self._in_flight = 0
        self._not_before = 0.0  # set by Retry-After
        self._due = 0.0  # pacing: when the next call is due (the algorithm's "TAT")
        self._spent = 0  # calls this budget made in the tracked window
        self._callers = 1.0  # estimated callers sharing the app's window (≥ 1)
        self._used_before = 0  # the window's calls (by anyone) before we tracked it

    @property
    def callers(self) -> float:
        """How many callers (of this budget's spending) the app's window seems to have."""
        with self._lock:
            return self._callers

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            if now < self._not_before:
                return self._not_before - now
            if self._limit is None:  # nothing known yet: a few probes, then wait for headers
                if self._in_flight < self._probe:
                    self._in_flight += 1
                    return 0.0
                return 0.05
            if now >= self._reset + self._margin:  # the window has rolled over
                periods = int((now - self._reset) // WINDOW_SECONDS) + 1
                self._next_window(self._reset + periods * WINDOW_SECONDS, self._limit, 0)
            if self._remaining <= 0:
                return max(self._reset + self._margin - now, 0.01)
            time_left = max(self._reset + self._margin - now, 0.001)
            share = max(self._remaining / self._callers, 1.0)
            interval = time_left / share
            ahead = max(self._burst, self._limit * BURST_SHARE / self._callers)
            earliest = self._due - ahead * interval
            if now < earliest:
                return max(min(earliest - now, time_left), 0.001)
            self._due = max(self._due, now) + interval
            self._remaining -= 1
            self._spent += 1
            self._in_flight += 1
            return 0.0

    def _next_window(self, reset: float, remaining: int, used: int) -> None:
        """Track a new window; ``used``: its calls by anyone before we track it."""
        self._reset = reset
        self._remaining = remaining
        self._spent = 0
        self._used_before = used
        self._callers = 1.0 + (self._callers - 1.0) / 2  # others likely go on, less surely

    @property
    def in_flight(self) -> int:
        """Reservations not yet ended by ``observe`` or ``release``."""
        with self._lock:
            return self._in_flight

    def release(self) -> None:
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)

    def observe(self, headers: RateHeaders | None, *, rate_limited: bool = False) -> None:
        """Correct the count from a response's headers; ends the request's reservation."""
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            if headers is None:
                return
            self._limit = headers.limit
            if headers.reset > self._reset:  # a newer window than the one tracked
                self._next_window(
                    headers.reset,
                    max(headers.remaining - self._in_flight, 0),
                    headers.limit - headers.remaining,
                )
            elif headers.reset == self._reset:
                self._remaining = min(self._remaining, headers.remaining)
                # Calls the app made since we track this window, by every caller, against ours.
                used = headers.limit - headers.remaining - self._used_before
                if self._spent >= MIN_SAMPLE:
                    self._callers = max(1.0, used / self._spent)
            if rate_limited:
                self._remaining = 0

    def block_until(self, when: float) -> None:
        """After a 429 with ``Retry-After``: spend nothing before ``when``."""
        with self._lock:
            self._not_before = max(self._not_before, when)
            self._remaining = 0


_BUDGETS: dict[str, RateBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def shared_budget(key: str) -> RateBudget:
    """The process-wide budget of one app (key: base URL and a token fingerprint)."""
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None:
            budget = _BUDGETS[key] = RateBudget()
        return budget
