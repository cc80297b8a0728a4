"""One event loop per process, in a thread of its own, for the coroutines of batch tasks.

A task runner runs each batch task in a thread of its own (Prefect's ``ThreadPoolTaskRunner``,
a Dask worker's threads). Had each task its own event loop (``asyncio.run``, as Prefect runs an
async task), four loops in four threads would take turns at the GIL: every socket read, every
``select`` of an idle loop gives it up, and each thread that wants it back waits for the one
holding it. S1's enrichment made 33,000–36,000 voluntary context switches that way and took
3.8 s, against 3.0 s and 3,700–6,500 switches with the batches' coroutines on one loop
(``docs/performance.md``). A task thread hands its coroutine to this loop and waits for its
result; it holds no GIL while it waits.

The coroutine runs in a copy of the caller's context (``contextvars``), as it would have in the
caller's own loop: the run's ``StopScope`` (signals.py), which cancels its requests on a stop,
and the orchestrator's run context follow it. Plain Python: nothing here imports Prefect.
"""

import asyncio
import concurrent.futures
import contextvars
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_owner = 0  # the process that started it: a forked child starts its own
_running: set["asyncio.Task[Any]"] = set()  # the loop holds its tasks weakly; this holds them


def shared_loop() -> asyncio.AbstractEventLoop:
    """This process's loop, started on first use in a daemon thread."""
    global _loop, _owner
    with _lock:
        if _loop is None or _owner != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="batch-loop", daemon=True)
            thread.start()
            _loop, _owner = loop, os.getpid()
        return _loop


def run_on_shared_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the shared loop, in a copy of this thread's context; wait for it and
    return its result or raise its exception. Not from the shared loop itself (it would wait on
    itself): that is a ``RuntimeError``."""
    loop = shared_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coroutine.close()
        raise RuntimeError("run_on_shared_loop called from the shared loop")
    context = contextvars.copy_context()
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def settle(task: "asyncio.Task[T]") -> None:
        _running.discard(task)
        if task.cancelled():
            outcome.set_exception(asyncio.CancelledError())
        elif (error := task.exception()) is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(task.result())

    def start() -> None:
        task = loop.create_task(coroutine, context=context)
        _running.add(task)
        task.add_done_callback(settle)

    loop.call_soon_threadsafe(start)
    # Bounded by the coroutine: every request in it has its timeouts, every wait its bound.
    return outcome.result()
