"""Resident size of one window's run over time, sampled every 0.5 s: where the peak is.

    .venv/bin/python -m benchmarks.memory_timeline window 200000   # the flow (ephemeral)
    .venv/bin/python -m benchmarks.memory_timeline plain 200000    # no Prefect
    .venv/bin/python -m benchmarks.memory_timeline backfill 200000 10   # 10 days, 2 at a time

Starts a sandbox process (latency 20–60 ms, 1,666 calls per 10 s) with that many conversations
over that many days (default 1), runs the window (or the backfill) in this process and prints
elapsed seconds, RSS MB and threads. ``TIMELINE_OUTPUT=DIR`` keeps the output there.
"""

import os
import resource
import sys
import tempfile
import threading
import time
from datetime import timedelta

from benchmarks.run import START, start_sandbox
from intercom_enrichment.api.settings import CALLS_PER_10S


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    mode, total = sys.argv[1], int(sys.argv[2])
    days = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    sandbox = start_sandbox(total, total * 3 // 10, days, CALLS_PER_10S)
    os.environ.update(INTERCOM_BASE_URL=sandbox.url, INTERCOM_ACCESS_TOKEN=sandbox.token)
    samples: list[tuple[float, float, int]] = []
    done = threading.Event()
    began = time.perf_counter()

    def sample() -> None:
        while not done.wait(0.5):
            samples.append((time.perf_counter() - began, rss_mb(), threading.active_count()))

    threading.Thread(target=sample, daemon=True).start()
    try:
        from intercom_enrichment.api.settings import IntercomSettings
        from intercom_enrichment.extract.enrich import EnrichOptions
        from intercom_enrichment.extract.pipeline import WindowJob, run_window
        from intercom_enrichment.windows import Window
        from intercom_enrichment_flows.backfill import backfill_conversations
        from intercom_enrichment_flows.enrich_conversations import enrich_conversations

        with tempfile.TemporaryDirectory() as scratch:
            out = os.environ.get("TIMELINE_OUTPUT", scratch)  # set it to keep the output
            end = START + timedelta(days=days)
            if mode == "backfill":
                backfill_conversations(start=START, end=end, output=out, max_concurrent_windows=2)
            elif mode == "window":
                enrich_conversations(start=START, end=end, output=out)
            else:
                job = WindowJob(Window(START, end), out, 2000, EnrichOptions())
                run_window(IntercomSettings.from_env(), job)
    finally:
        done.set()
        sandbox.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{mode} {total}: {time.perf_counter() - began:.1f} s, peak RSS {peak:.0f} MB")
    print("| s | RSS MB | threads |\n|---|---|---|")
    for at, rss, threads in samples[:: max(1, len(samples) // 40)]:
        print(f"| {at:.1f} | {rss:.0f} | {threads} |")


if __name__ == "__main__":
    main()
