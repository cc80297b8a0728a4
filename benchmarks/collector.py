"""How long S1's whole CLI run with a running Prefect server spends in Python's cyclic garbage
collector (``memory.settle_startup_heap`` and ``memory.collector_paused`` are the levers).

    .venv/bin/python -m benchmarks.collector [--repeat 3] [--no-settle] [--no-pause]

Each run is ``intercom-enrich run`` in a fresh process against a fresh S1 sandbox (20,000
conversations, 6,000 contacts, latency 20–60 ms, 1,666 calls per 10 s) on a fresh rate window;
the process is started through a small wrapper that sums every collection's duration
(``gc.callbacks``) and prints it at exit. ``--no-settle`` makes ``settle_startup_heap`` a no-op,
as it was before that lever, and ``--no-pause`` ``collector_paused`` (automatic collections
while a window is listed and enriched, as before that lever): runs with both levers and
without one alternate, so all see the same machine.
Prints a table: wall seconds, seconds in the collector (of which full collections), collections
per generation.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.run import ROOT, START, start_sandbox, wait_for_fresh_rate_window
from intercom_enrichment.api.settings import CALLS_PER_10S
from tests.prefect_server import prefect_env, prefect_server

WRAPPER = """
import atexit, gc, json, sys, time
spent = {"total": 0.0, "full": 0.0, "counts": [0, 0, 0], "began": 0.0}
def timed(phase, info):
    if phase == "start":
        spent["began"] = time.perf_counter()
        return
    took = time.perf_counter() - spent["began"]
    spent["total"] += took
    spent["counts"][info["generation"]] += 1
    if info["generation"] == 2:
        spent["full"] += took
gc.callbacks.append(timed)
if sys.argv[1] == "no-settle":
    import intercom_enrichment.memory as memory
    memory.settle_startup_heap = lambda: None
    import intercom_enrichment_flows.enrich_conversations as flow
    flow.settle_startup_heap = memory.settle_startup_heap
if sys.argv[1] == "no-pause":  # before the pipeline imports it
    import contextlib
    import intercom_enrichment.memory as memory
    memory.collector_paused = contextlib.nullcontext
atexit.register(lambda: print("GC " + json.dumps(spent), file=sys.stderr))
from intercom_enrichment_flows.cli import main
main(sys.argv[2:])
"""


def one(env: dict[str, str], mode: str, output: Path) -> dict[str, float]:
    sb = start_sandbox(20_000, 6_000, 1, CALLS_PER_10S)
    try:
        wait_for_fresh_rate_window()
        window = ["--start", START.isoformat(), "--end", (START + timedelta(days=1)).isoformat()]
        job = {**env, "INTERCOM_BASE_URL": sb.url, "INTERCOM_ACCESS_TOKEN": sb.token}
        command = [sys.executable, "-c", WRAPPER, mode,
                   "run", *window, "--output", str(output)]  # fmt: skip
        began = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, env=job, capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        wall = time.perf_counter() - began
    finally:
        sb.stop()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    (line,) = (x for x in proc.stderr.splitlines() if x.startswith("GC "))
    spent = json.loads(line[3:])
    return {"wall": wall, "total": spent["total"], "full": spent["full"], **{
        f"gen{g}": n for g, n in enumerate(spent["counts"])}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-settle", action="store_true", help="also run without settling")
    parser.add_argument("--no-pause", action="store_true", help="also run without the pause")
    args = parser.parse_args()
    modes = [
        "both",
        *(["no-settle"] if args.no_settle else []),
        *(["no-pause"] if args.no_pause else []),
    ]
    names = {"both": "settled, paused", "no-settle": "not settled", "no-pause": "not paused"}
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        with prefect_server(root / "home") as api:
            env = prefect_env(root / "home", api, PREFECT_LOGGING_LEVEL="WARNING")
            for k in range(args.repeat):
                for mode in modes:
                    out = root / f"out-{k}-{mode}"
                    rows.append((names[mode], one(env, mode, out)))
    print("| run | wall s | in the collector s | of which full s | collections (0/1/2) |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['wall']:.1f} | {r['total']:.2f} | {r['full']:.2f} | "
              f"{r['gen0']:.0f} / {r['gen1']:.0f} / {r['gen2']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
