"""Resident size at the phases of one window's flow run: where its peak comes from.

    .venv/bin/python -m benchmarks.memory_phases 200000   # ephemeral Prefect
    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/python -m benchmarks.memory_phases 200000

Starts a sandbox process (latency 20–60 ms, 1,666 calls per 10 s) with that many conversations
in one day, runs ``enrich_conversations`` over that day in this process, with RSS sampled every
10 ms, and prints RSS before and after the window's pipeline and each step of the refresh at the
end of the run, with the peak during each (inner steps print before the step holding them).
After the pipeline it also prints how much of Python's small-object heap is empty pools
(``sys._debugmallocstats``): memory freed but still held.
"""

import gc
import os
import re
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchmarks.memory_timeline import rss_mb
from benchmarks.run import START, start_sandbox
from intercom_enrichment.api.settings import CALLS_PER_10S


class Sampler:
    """RSS every 10 ms, folded into the peak of every measured call in progress (they nest)."""

    def __init__(self) -> None:
        self.peaks: list[list[float]] = []  # one [peak] per call in progress
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            now = rss_mb()
            for peak in list(self.peaks):
                peak[0] = max(peak[0], now)
            time.sleep(0.01)

    def around(self, owner: Any, name: str, label: str) -> None:
        """Print RSS before and after ``owner.name`` and the peak while it ran."""
        original: Callable[..., Any] = getattr(owner, name)

        def measured(*args: Any, **kwargs: Any) -> Any:
            before = rss_mb()
            peak = [before]
            self.peaks.append(peak)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                # by identity: nested calls can hold equal peaks
                self.peaks = [p for p in self.peaks if p is not peak]
                print(
                    f"| {label} | {before:.0f} | {rss_mb():.0f} | {peak[0]:.0f} "
                    f"| {time.perf_counter() - started:.2f} |",
                    flush=True,
                )

        setattr(owner, name, measured)


def empty_pools_mb() -> float:
    """Bytes in pymalloc pools that hold no object (``sys._debugmallocstats``), in MB."""
    with tempfile.TemporaryFile("w+") as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)  # the stats are written to the C-level stderr
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        match = re.search(r"(\d+) unused pools \* (\d+) bytes", captured.read())
    return int(match[1]) * int(match[2]) / 1e6 if match else float("nan")


def then_report_pools(owner: Any, name: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def reported(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        gc.collect()
        print(f"| (empty pymalloc pools after the window: {empty_pools_mb():.0f} MB) | | | | |")
        return result

    setattr(owner, name, reported)


def main() -> None:
    total = int(sys.argv[1])
    sandbox = start_sandbox(total, total * 3 // 10, 1, CALLS_PER_10S)
    os.environ.update(INTERCOM_BASE_URL=sandbox.url, INTERCOM_ACCESS_TOKEN=sandbox.token)
    import intercom_enrichment_flows.enrich_conversations as flow_module
    import intercom_enrichment_tasks.marts as marts_task
    from intercom_enrichment.marts import runner, staging

    sampler = Sampler()
    print("| phase | RSS before MB | RSS after MB | peak during MB | s |\n|---|---|---|---|---|")
    then_report_pools(flow_module, "run_pipeline")
    sampler.around(flow_module, "run_pipeline", "window: list, enrich, write")
    sampler.around(marts_task, "refresh", "refresh (after release_memory)")
    for step in ("_file", "_partitioned", "_marts"):
        sampler.around(runner._Refresh, step, f"  refresh {step.strip('_')}")
    sampler.around(staging.Stager, "partitioned", "    partitioned query")
    try:
        with tempfile.TemporaryDirectory() as out:
            flow_module.enrich_conversations(start=START, end=START + timedelta(days=1), output=out)
    finally:
        sandbox.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{total:,} conversations: peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
