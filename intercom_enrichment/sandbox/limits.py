"""Rate limiting in fixed 10-second windows, and the fault injector."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .config import FaultRule

WINDOW_SECONDS = 10


def window_reset(now: float) -> int:
    """UNIX time at which the 10-second window containing `now` ends."""
    return (int(now // WINDOW_SECONDS) + 1) * WINDOW_SECONDS


def retry_after(reset: int, now: float) -> int:
    """Whole seconds (at least 1) from `now` until `reset`: a `Retry-After` value."""
    return max(1, math.ceil(reset - now))


@dataclass(frozen=True)
class RateDecision:
    """The outcome of counting one request against the current window."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """`limit` calls per window; windows are aligned to multiples of 10 s of the UNIX clock.

    Every counted call uses up one slot, including refused ones.
    """

    def __init__(self, limit: int, clock: Callable[[], float] = time.time) -> None:
        self._limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._count = 0

    def hit(self) -> RateDecision:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            if window != self._window:
                self._window, self._count = window, 0
            self._count += 1
            count = self._count
        return RateDecision(
            allowed=count <= self._limit,
            limit=self._limit,
            remaining=max(self._limit - count, 0),
            reset=window_reset(now),
        )


class FaultInjector:
    """Decides, per request, which configured fault (if any) applies; the first match wins.

    A `first_n` rule faults the first n requests it matches; a `probability` rule draws from
    an RNG seeded with the sandbox seed. An ``invalid_cursor`` rule only matches requests that
    carry a cursor.
    """

    def __init__(self, rules: tuple[FaultRule, ...], seed: int) -> None:
        self._rules = rules
        self._matched = [0] * len(rules)
        self._rng = random.Random(f"{seed}:faults")
        self._lock = threading.Lock()

    def pick(self, endpoint: str, has_cursor: bool) -> FaultRule | None:
        with self._lock:
            for k, rule in enumerate(self._rules):
                if rule.endpoint not in ("*", endpoint):
                    continue
                if rule.kind == "invalid_cursor" and not has_cursor:
                    continue
                self._matched[k] += 1
                if rule.first_n is not None:
                    hit = self._matched[k] <= rule.first_n
                else:
                    hit = self._rng.random() < (rule.probability or 0.0)
                if hit:
                    return rule
        return None
