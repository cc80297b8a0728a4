"""SIGTERM and SIGINT: stop within seconds, cleanly, whatever is in flight.

Two halves:

- ``cancellable()`` wraps every API request (``IntercomClient.request``). It registers the asyncio
  task doing the request with its run's ``StopScope`` (a context variable, so it follows the run
  into Prefect's task threads); the scope's ``request_stop()`` cancels every registered task from
  any thread (``loop.call_soon_threadsafe``), and the cancellation surfaces as ``Interrupted`` —
  an ordinary exception that unwinds the batch, the task, the flow (the writer's ``abort``
  removes its staging files; the manifest of the last good run is never touched) and ends the
  Prefect run Failed. A request of that run started after the stop raises ``Interrupted`` at
  once. The state is the run's, not the process's: the next run starts unstopped.
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
import contextvars
import functools
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from .errors import Interrupted
from .limits import SHUTDOWN_GRACE

T = TypeVar("T")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopScope:
    """The stop state of one run: whether it was asked to stop, by which signal, and the
    requests in flight that a stop cancels. Per run, never per process: in a long-lived
    process (``flow.serve()``, a worker) one run's interruption must not stop the next."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._signal: list[int] = []  # the signal that asked to stop, once one did
        self._lock = threading.Lock()
        self._active: dict[asyncio.Task[Any], asyncio.AbstractEventLoop] = {}
        self.deadlines: list[threading.Timer] = []  # forced exits, cancelled once unwound

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def reason(self) -> str:
        name = signal.Signals(self._signal[0]).name if self._signal else "a stop request"
        return (
            f"interrupted by {name}: in-flight requests cancelled, staging files removed, "
            "the last completed manifest left as it was"
        )

    def exit_code(self) -> int:
        return 128 + (self._signal[0] if self._signal else signal.SIGTERM)

    def request_stop(self, signum: int | None = None) -> None:
        """Cancel every request of this run in flight, in every thread and loop; refuse new
        ones."""
        if signum is not None and not self._signal:
            self._signal.append(signum)
        self._stop.set()
        with self._lock:
            active = list(self._active.items())
        for task, loop in active:
            with contextlib.suppress(RuntimeError):  # a closed loop: nothing left to cancel
                loop.call_soon_threadsafe(task.cancel)

    def _register(self, task: "asyncio.Task[Any]") -> None:
        with self._lock:
            self._active[task] = asyncio.get_running_loop()

    def _unregister(self, task: "asyncio.Task[Any]") -> None:
        with self._lock:
            self._active.pop(task, None)


# The run this context belongs to. Prefect copies the context into its task threads
# (ThreadPoolTaskRunner) and the backfill into its window threads, so a run's requests find
# their scope wherever they run.
_scope: contextvars.ContextVar[StopScope | None] = contextvars.ContextVar(
    "intercom_enrichment_stop_scope", default=None
)


def current_scope() -> StopScope | None:
    return _scope.get()


@contextlib.contextmanager
def run_scope() -> Iterator[StopScope]:
    """The scope of the run in this context, or a new one for the block (a run's start)."""
    existing = _scope.get()
    if existing is not None:
        yield existing
        return
    scope = StopScope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def stop_requested() -> bool:
    scope = _scope.get()
    return scope is not None and scope.stopped


def request_stop(signum: int | None = None) -> None:
    """Stop the run of this context (a test's or a flow's stand-in for a signal)."""
    scope = _scope.get()
    if scope is not None:
        scope.request_stop(signum)


@asynccontextmanager
async def cancellable() -> AsyncIterator[None]:
    """Run the body as a request that its run's ``request_stop`` may cancel (module doc)."""
    scope = _scope.get()
    task = asyncio.current_task()
    if scope is None or task is None:  # not inside a run (a bare client): nothing stops it
        yield
        return
    scope._register(task)
    try:
        if scope.stopped:
            raise Interrupted(scope.reason())
        yield
    except asyncio.CancelledError:
        if not scope.stopped:
            raise  # someone else's cancellation: not ours to turn into an error
        task.uncancel()
        raise Interrupted(scope.reason()) from None
    finally:
        scope._unregister(task)


# Called, without waiting, just before a forced exit (which skips ``atexit``): e.g. terminating
# a child process this run started (the CLI's early temporary server).
_before_forced_exit: list[Callable[[], None]] = []


def before_forced_exit(hook: Callable[[], None]) -> None:
    """Run ``hook`` (it must not block) if the process is forced to exit."""
    _before_forced_exit.append(hook)


def _exit_now(code: int) -> None:
    for hook in list(_before_forced_exit):
        with contextlib.suppress(Exception):
            hook()
    os._exit(code)


def _force_exit(scope: StopScope) -> None:
    sys.stderr.write(f"intercom-enrich: error: {scope.reason()} (forced after the grace period)\n")
    sys.stderr.flush()
    _exit_now(scope.exit_code())


def _handler(scope: StopScope) -> Callable[[int, object], None]:
    def on_signal(signum: int, _frame: object) -> None:
        if scope.stopped:  # a second signal: stop waiting
            _exit_now(128 + signum)
        scope.request_stop(signum)
        timer = threading.Timer(SHUTDOWN_GRACE.default, _force_exit, args=(scope,))
        timer.daemon = True
        scope.deadlines.append(timer)
        timer.start()

    return on_signal


def run_interruptibly(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread, in a stop scope of its own, while this (main) thread
    handles SIGTERM and SIGINT for that scope."""
    if threading.current_thread() is not threading.main_thread():
        with run_scope():
            return fn()
    outcome: dict[str, Any] = {}
    scope = StopScope()
    context = contextvars.copy_context()
    context.run(_scope.set, scope)

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

    handler = _handler(scope)
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        worker = threading.Thread(
            target=context.run, args=(work,), name="intercom-enrich-command", daemon=True
        )
        worker.start()
        worker.join()  # signal handlers run while this waits
    finally:
        for timer in scope.deadlines:  # unwound in time: exit normally (atexit cleanup too)
            timer.cancel()
        for s, previous_handler in previous.items():
            signal.signal(s, previous_handler)
    if scope.stopped:
        error = outcome.get("error")
        # typer's/click's Exit (exit_code) and SystemExit follow the command's own one-line error
        if not (isinstance(error, SystemExit) or hasattr(error, "exit_code")):
            sys.stderr.write(f"intercom-enrich: error: {scope.reason()}\n")
        raise SystemExit(scope.exit_code())
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")  # type: ignore[return-value]


def cancels_requests_when_interrupted(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a flow function: the run's stop scope (the CLI's, or a new one), and —
    where the flow is in the main thread (a Prefect worker's ``flow-run execute``), whose
    SIGTERM handler raises ``TerminationSignal`` there before the engine waits for the task
    threads — the run's requests cancelled as that passes, so they end at once. Anything that
    is not an ``Exception`` (a termination signal, KeyboardInterrupt) counts, except the
    generator and asyncio control flow. The stop ends with the run: the next run in the same
    process starts unstopped."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with run_scope() as scope:
            try:
                return fn(*args, **kwargs)
            except (GeneratorExit, asyncio.CancelledError):
                raise
            except Exception:
                raise
            except BaseException:
                scope.request_stop()
                raise

    return wrapper


def interruptible(command: Callable[..., T]) -> Callable[..., T]:
    """Decorator for a CLI command: see ``run_interruptibly``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run_interruptibly(lambda: command(*args, **kwargs))

    return wrapper
