"""SIGTERM and SIGINT: stop within seconds, cleanly, whatever is in flight.

Two halves:

- ``cancellable()`` wraps every API request (``IntercomClient.request``). It registers the asyncio
  task doing the request; ``request_stop()`` cancels every registered task from any thread
  (``loop.call_soon_threadsafe``), and the cancellation surfaces as ``Interrupted`` — an ordinary
  exception that unwinds the batch, the task, the flow (the writer's ``abort`` removes its staging
  files; the manifest of the last good run is never touched) and ends the Prefect run Failed.
  A request started after the stop raises ``Interrupted`` at once.
- ``cancels_requests_when_interrupted`` decorates the flow functions, for runs where the flow
  is in the main thread (a Prefect worker): Prefect's SIGTERM handler raises there, and the
  decorator cancels the requests before the engine waits for the task threads.
- ``interruptible`` decorates the CLI's long commands (``run``, ``backfill``). The command runs in a
  worker thread; the main thread only waits, with its own handlers for SIGTERM and SIGINT. (In
  the main thread Prefect's flow engine would swap SIGTERM for its own handler, which crashes the
  run but then waits for the task threads — each stuck until its request times out.) After the
  stop the CLI exits 143 (SIGTERM) or 130 (SIGINT) once the command has unwound, or after
  ``SHUTDOWN_GRACE`` seconds regardless; a second signal exits at once. Processes the command
  starts (Prefect's ephemeral API server) start with SIGINT blocked, so that a Ctrl-C — sent to
  the whole process group — does not take the API down before the run has recorded its end.

Plain Python: nothing here imports Prefect.
"""

import asyncio
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from .errors import Interrupted
from .limits import SHUTDOWN_GRACE

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_stop = threading.Event()
_signal: list[int] = []  # the signal that asked to stop, once one did
_lock = threading.Lock()
_active: dict["asyncio.Task[Any]", asyncio.AbstractEventLoop] = {}
_deadlines: list[threading.Timer] = []  # forced exits, cancelled once the command has unwound


def stop_requested() -> bool:
    return _stop.is_set()


def _reason() -> str:
    name = signal.Signals(_signal[0]).name if _signal else "a stop request"
    return (
        f"interrupted by {name}: in-flight requests cancelled, staging files removed, "
        "the last completed manifest left as it was"
    )


def request_stop(signum: int | None = None) -> None:
    """Cancel every request in flight, in every thread and loop; refuse new ones."""
    if signum is not None and not _signal:
        _signal.append(signum)
    _stop.set()
    with _lock:
        active = list(_active.items())
    for task, loop in active:
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing left to cancel
            loop.call_soon_threadsafe(task.cancel)


def reset() -> None:
    """Forget a stop (tests, and a long-lived process that handled one)."""
    _stop.clear()
    _signal.clear()


@asynccontextmanager
async def cancellable() -> AsyncIterator[None]:
    """Run the body as a request that ``request_stop`` may cancel (see the module doc)."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task under asyncio.run
        yield
        return
    with _lock:
        _active[task] = asyncio.get_running_loop()
    try:
        if _stop.is_set():
            raise Interrupted(_reason())
        yield
    except asyncio.CancelledError:
        if not _stop.is_set():
            raise  # someone else's cancellation: not ours to turn into an error
        task.uncancel()
        raise Interrupted(_reason()) from None
    finally:
        with _lock:
            _active.pop(task, None)


def _exit_code() -> int:
    return 128 + (_signal[0] if _signal else signal.SIGTERM)


def _force_exit() -> None:
    sys.stderr.write(f"intercom-enrich: error: {_reason()} (forced after the grace period)\n")
    sys.stderr.flush()
    os._exit(_exit_code())


def _on_signal(signum: int, _frame: object) -> None:
    if _stop.is_set():  # a second signal: stop waiting
        os._exit(128 + signum)
    request_stop(signum)
    timer = threading.Timer(SHUTDOWN_GRACE.default, _force_exit)
    timer.daemon = True
    _deadlines.append(timer)
    timer.start()


def run_interruptibly(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread while this (main) thread handles SIGTERM and SIGINT."""
    if threading.current_thread() is not threading.main_thread():
        return fn()
    outcome: dict[str, Any] = {}

    def work() -> None:
        # Children started from here (Prefect's ephemeral API server, Dask workers) inherit a
        # blocked SIGINT: a Ctrl-C, which a terminal sends to the whole process group, must not
        # stop the API before the run has recorded how it ended. They are stopped by their
        # owners at exit (SIGTERM), as before.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the main thread below
            outcome["error"] = exc

    reset()
    previous = {s: signal.signal(s, _on_signal) for s in STOP_SIGNALS}
    try:
        worker = threading.Thread(target=work, name="intercom-enrich-command", daemon=True)
        worker.start()
        worker.join()  # signal handlers run while this waits
    finally:
        for timer in _deadlines:  # unwound in time: exit normally (atexit cleanup included)
            timer.cancel()
        _deadlines.clear()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if _stop.is_set():
        error = outcome.get("error")
        # typer's/click's Exit (exit_code) and SystemExit follow the command's own one-line error
        if not (isinstance(error, SystemExit) or hasattr(error, "exit_code")):
            sys.stderr.write(f"intercom-enrich: error: {_reason()}\n")
        raise SystemExit(_exit_code())
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")  # type: ignore[return-value]


def cancels_requests_when_interrupted(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a flow function run in the main thread (a Prefect worker's
    ``flow-run execute``): Prefect's SIGTERM handler raises ``TerminationSignal`` there, and
    the engine then waits for the task threads; cancelling their requests first lets them end
    at once. Anything that is not an ``Exception`` (a termination signal, KeyboardInterrupt)
    counts, except the generator and asyncio control flow."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (GeneratorExit, asyncio.CancelledError):
            raise
        except Exception:
            raise
        except BaseException:
            request_stop()
            raise

    return wrapper


def interruptible(command: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a CLI command: see ``run_interruptibly``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run_interruptibly(lambda: command(*args, **kwargs))

    return wrapper
