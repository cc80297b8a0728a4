"""The batches' coroutines share one event loop per process (shared_loop.py): results and errors
come back to the calling thread, the caller's context goes with the coroutine, and the
coroutines of several callers run on that one loop at once."""

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from intercom_enrichment.shared_loop import run_on_shared_loop, shared_loop

RUN = contextvars.ContextVar[str]("RUN")


async def where(tag: str) -> tuple[str, int, int]:
    await asyncio.sleep(0)
    return RUN.get(tag), id(asyncio.get_running_loop()), threading.get_ident()


def test_result_loop_and_context_come_from_the_caller_and_the_shared_loop() -> None:
    token = RUN.set("run-1")
    try:
        value, loop, thread = run_on_shared_loop(where("unset"))
    finally:
        RUN.reset(token)
    assert value == "run-1"  # the caller's context went with the coroutine
    assert loop == id(shared_loop()) and thread != threading.get_ident()
    assert run_on_shared_loop(where("unset"))[0] == "unset"  # a copy, not a shared context


def test_callers_in_several_threads_run_at_once_on_one_loop() -> None:
    both = threading.Barrier(2, timeout=10)
    arrived = asyncio.Event()
    seen: list[int] = []

    async def meet(first: bool) -> None:
        seen.append(id(asyncio.get_running_loop()))
        if first:  # waits for the second caller's coroutine: only if both run at once
            await asyncio.wait_for(arrived.wait(), 10)
        else:
            arrived.set()

    def call(first: bool) -> None:
        both.wait()
        run_on_shared_loop(meet(first))

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(call, True), pool.submit(call, False)]:
            future.result(timeout=30)
    assert len(seen) == 2 and len(set(seen)) == 1


def test_errors_and_cancellations_reach_the_caller() -> None:
    async def fails() -> None:
        raise ValueError("bad batch")

    async def cancelled() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with pytest.raises(ValueError, match="bad batch"):
        run_on_shared_loop(fails())
    with pytest.raises(asyncio.CancelledError):
        run_on_shared_loop(cancelled())


def test_calling_it_from_the_shared_loop_is_refused_not_a_deadlock() -> None:
    async def nested() -> None:
        run_on_shared_loop(where("x"))

    with pytest.raises(RuntimeError, match="from the shared loop"):
        run_on_shared_loop(nested())
