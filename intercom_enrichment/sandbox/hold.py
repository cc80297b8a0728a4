"""A test control: hold requests unanswered while a condition holds, until released.

Tests that kill a run "while it works" use it to make that moment certain instead of racing the
run: ``server.hold.hold_when(condition)``, wait for ``server.hold.held``, kill, then
``server.hold.release()``. A held request waits without a deadline of its own, so the caller's
wait (``held.wait(timeout)``) and ``release`` (or the server stopping) bound it.
"""

import asyncio
import threading
from collections.abc import Callable


class RequestHold:
    def __init__(self) -> None:
        self._when: Callable[[], bool] | None = None
        self._released = threading.Event()
        self.held = threading.Event()  # set once a request is being held

    def hold_when(self, condition: Callable[[], bool]) -> None:
        """Hold every request that arrives while ``condition()`` is true."""
        self._released.clear()
        self.held.clear()
        self._when = condition

    def release(self) -> None:
        """Answer the held requests and hold no more."""
        self._when = None
        self._released.set()

    async def gate(self, stopping: threading.Event) -> None:
        """Called by the app for every request before it is answered."""
        when = self._when
        if when is None or not when():
            return
        self.held.set()
        while not self._released.is_set() and not stopping.is_set():
            await asyncio.sleep(0.01)
