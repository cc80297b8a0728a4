"""Windows per minute with one vs two process workers, on one shared Intercom budget.

    .venv/bin/python -m benchmarks.scale

A temporary Prefect server, a process pool, the deployments of deployments/prefect.yaml, and
a sandbox process (latency 20–60 ms, `--rate-limit` calls per 10 s). A backfill of hourly
windows is fanned out over the pool (`enrich-conversations/window`), each worker running one
flow run at a time; the global concurrency limit is set to the sandbox's limit.
"""

import argparse
import json
import subprocess
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from benchmarks.run import ROOT, START, start_sandbox
from intercom_enrichment.api.settings import CALLS_PER_10S
from tests.prefect_server import BIN, prefect_cli, prefect_env, prefect_server, process_worker

WINDOWS = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-limit", type=int, default=CALLS_PER_10S)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "prefect"
        home.mkdir()
        sandbox = start_sandbox(12_000, 3_000, WINDOWS / 24, args.rate_limit)
        try:
            with prefect_server(home) as api:
                env = prefect_env(home, api, PREFECT_LOGGING_LEVEL="WARNING")
                env.update(INTERCOM_BASE_URL=sandbox.url, INTERCOM_ACCESS_TOKEN=sandbox.token)
                prefect_cli(env, "work-pool", "create", "intercom", "--type", "process", cwd=ROOT)
                deploy = ("deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
                prefect_cli(env, *deploy, cwd=ROOT)
                subprocess.run(
                    [str(BIN / "intercom-enrich"), "budget", "intercom-api",
                     "--calls-per-10s", str(args.rate_limit)], env=env, check=True,
                    capture_output=True,
                )  # fmt: skip
                worker_env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
                for workers in (1, 2):
                    with ExitStack() as stack:
                        for i in range(workers):
                            log = home / f"w{workers}-{i}.log"
                            worker = process_worker(worker_env, "intercom", f"w{i}", log, ROOT)
                            stack.enter_context(worker)
                        out = Path(tmp) / f"out-{workers}"
                        wall = fan_out(env, out)
                    requests, limited = request_totals(out)
                    rows.append((workers, wall, WINDOWS * 60 / wall, requests, limited))
        finally:
            sandbox.stop()
    print("| workers | windows | wall s | windows per minute | requests | 429s |")
    print("|---|---|---|---|---|---|")
    for workers, wall, per_min, requests, limited in rows:
        print(f"| {workers} | {WINDOWS} | {wall:.1f} | {per_min:.1f} | {requests} | {limited} |")


def request_totals(output: Path) -> tuple[int, int]:
    """API requests and 429s of every window, from the manifests."""
    manifests = [json.loads(p.read_text()) for p in (output / "_runs").glob("*.json")]
    assert len(manifests) == WINDOWS and all(m["status"] == "completed" for m in manifests)
    return (
        sum(m["metrics"]["api_requests"] for m in manifests),
        sum(m["metrics"]["api_rate_limited"] for m in manifests),
    )


def fan_out(env: dict[str, str], output: Path) -> float:
    """The backfill parent runs here; its windows run on the pool's workers."""
    started = time.perf_counter()
    code = (
        "from intercom_enrichment_flows.backfill import backfill_conversations as b;"
        " from datetime import datetime;"
        f"b(start=datetime.fromisoformat('{START.isoformat()}'),"
        f" end=datetime.fromisoformat('{(START + timedelta(hours=WINDOWS)).isoformat()}'),"
        f" every='1h', output='{output}', max_concurrent_windows=2,"
        " fan_out_deployment='enrich-conversations/window', global_limit='intercom-api')"
    )
    subprocess.run([str(BIN / "python"), "-c", code], env=env, cwd=ROOT, check=True, timeout=1800)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
