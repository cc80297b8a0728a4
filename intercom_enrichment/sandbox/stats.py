"""Thread-safe counters of what the sandbox served, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class SandboxStats:
    """Requests per endpoint key, responses per status code, 429s and injected faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._responses: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._rate_limited = 0

    def record_request(self, endpoint: str) -> None:
        with self._lock:
            self._requests[endpoint] += 1

    def total_requests(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    def record_response(self, status: int) -> None:
        with self._lock:
            self._responses[status] += 1
            if status == 429:
                self._rate_limited += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy: ``{"requests", "responses", "rate_limited", "faults_injected"}``."""
        with self._lock:
            return {
                "requests": dict(self._requests),
                "responses": dict(self._responses),
                "rate_limited": self._rate_limited,
                "faults_injected": dict(self._faults),
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._responses.clear()
            self._faults.clear()
            self._rate_limited = 0
