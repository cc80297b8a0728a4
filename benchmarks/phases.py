"""Where S1's window spends its time: each step of ``run_pipeline``, started and ended.

    .venv/bin/python -m benchmarks.phases [--repeat 2]

One window of S1 (20,000 conversations, 6,000 contacts, 1,666 calls per 10 s, latency 20–60 ms)
through the plain pipeline (``AsyncioExecutor``, no Prefect, after imports), against a sandbox in
a process of its own; each run starts on a fresh rate window. Prints one table a run: each step
of the executor (listing, snapshots, enrichment, companies), publication and the purge, with
their start and end in seconds from the run's start, then the requests by endpoint.
"""

import argparse
import functools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from benchmarks.run import LIMIT, START, start_sandbox, wait_for_fresh_rate_window
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract import pipeline
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import WindowJob, run_window
from intercom_enrichment.windows import Window

STEPS = ("list_window", "dimensions", "enrich", "companies", "reduce")


def _timed(name: str, fn: Callable[..., Any], spans: list[tuple[str, float, float]]) -> Any:
    """``fn`` that appends (name, start, end) to ``spans``; a generator's end is its last item."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        began = time.perf_counter()
        result = fn(*args, **kw)
        if isinstance(result, Iterator):

            def drained() -> Iterator[Any]:
                yield from result
                spans.append((name, began, time.perf_counter()))

            return drained()
        spans.append((name, began, time.perf_counter()))
        return result

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    spans: list[tuple[str, float, float]] = []
    executor = pipeline.AsyncioExecutor
    for step in STEPS:
        setattr(executor, step, _timed(step, getattr(executor, step), spans))
    writer = pipeline.WindowWriter
    setattr(writer, "publish", _timed("publish", writer.publish, spans))  # noqa: B010
    setattr(pipeline, "_purge", _timed("purge", pipeline._purge, spans))  # noqa: B010
    sandbox = start_sandbox(20_000, 6_000, 1, LIMIT)
    try:
        os.environ["INTERCOM_BASE_URL"] = sandbox.url
        os.environ["INTERCOM_ACCESS_TOKEN"] = sandbox.token
        for run in range(1, args.repeat + 1):
            wait_for_fresh_rate_window()
            spans.clear()
            window = Window(START, START + timedelta(days=1))
            job = WindowJob(window, tempfile.mkdtemp(), 2000, EnrichOptions())
            began = time.perf_counter()
            done = run_window(IntercomSettings.from_env(), job)
            wall = time.perf_counter() - began
            print(
                f"\nrun {run}: {wall:.1f} s\n\n| step | from s | to s | took s |\n|---|---|---|---|"
            )
            for name, start, end in sorted(spans, key=lambda span: span[1]):
                print(f"| {name} | {start - began:.2f} | {end - began:.2f} | {end - start:.2f} |")
            by = done.metrics.requests_by_endpoint
            print(
                f"\nrequests {sum(by.values())}: "
                + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
            )
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
