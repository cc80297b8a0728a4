"""Benchmarks against the sandbox, run as a separate process: prints a markdown table.

    .venv/bin/python -m benchmarks.run                 # S1 … S6
    .venv/bin/python -m benchmarks.run --only S1 S2

A temporary `prefect server start` is started first and not timed. Each scenario gets its own
sandbox process (latency 20–60 ms) and each job its own process, so peak RSS is the job's.
"""

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.naive import run_naive
from intercom_enrichment.api.settings import CALLS_PER_10S as LIMIT
from intercom_enrichment.objects.registry import SNAPSHOTS
from tests.prefect_server import prefect_env, prefect_server

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 10, 1, tzinfo=UTC)


@dataclass
class Sandbox:
    proc: subprocess.Popen[str]
    url: str
    token: str

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def start_sandbox(conversations: int, contacts: int, days: float, rate_limit: int) -> Sandbox:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intercom_enrichment_flows.cli",
            "sandbox",
            "--port",
            "0",
            "--conversations",
            str(conversations),
            "--contacts",
            str(contacts),
            "--start",
            START.isoformat(),
            "--days",
            str(days),
            "--rate-limit",
            str(rate_limit),
            "--latency-ms",
            "20:60",
            # The scenarios are issue 12's (conversations and their contacts): no tickets.
            "--tickets",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    values: dict[str, str] = {}
    while len(values) < 2:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("sandbox did not start")
        if "=" in line:
            key, value = line.strip().split("=", 1)
            values[key] = value
    return Sandbox(proc, values["INTERCOM_BASE_URL"], values["INTERCOM_ACCESS_TOKEN"])


def run_job(mode: str, params: dict[str, Any], sandbox: Sandbox, env: dict[str, str]) -> dict:
    job_env = {**env, "INTERCOM_BASE_URL": sandbox.url, "INTERCOM_ACCESS_TOKEN": sandbox.token}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.flow_runner", mode, json.dumps(params, default=str)],
        cwd=ROOT,
        env=job_env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def wait_for_fresh_rate_window() -> None:
    """Start on a fresh 10-second window, so an earlier job's calls do not count against us."""
    time.sleep(10 - time.time() % 10 + 0.2)


def minimal_requests(result: dict, include_parts: bool) -> int:
    """Listing pages (a ticket search too, empty here) + ⌈distinct contacts ÷ 150⌉ + fallbacks
    (+ one GET per conversation), plus what the documented API leaves no way around: one request
    a dimension snapshot (`objects.registry.SNAPSHOTS`), the full tag and company lists of
    contacts whose embedded lists say ``has_more``, and the companies: one GET each, or the
    list's pages where the run read them from ``POST /companies/list`` (each step must read
    the whole list: the API filters it by nothing)."""
    by = result["requests_by_endpoint"]
    pages = math.ceil(result["conversations_listed"] / 150) + by.get("tickets.search", 0)
    bulk = math.ceil(result["contacts_unique"] / 150)
    parts = result["conversations_written"] if include_parts else 0
    lists = sum(by.get(k, 0) for k in ("contacts.tags", "contacts.companies"))
    dimensions = sum(by.get(key, 0) for key in {s.endpoint.key for s in SNAPSHOTS})
    companies = result.get("companies_referenced", 0)
    if by.get("companies.list", 0):
        companies = min(companies, by["companies.list"] + by.get("companies.get", 0))
    return pages + bulk + by.get("contacts.get", 0) + parts + lists + dimensions + companies


def row(name: str, wall: float, result: dict, limit: int, rss: float | None, parts: bool) -> dict:
    requests = result.get("api_requests") or sum(result["requests"].values())
    by = result.get("requests_by_endpoint") or result["requests"]
    conversations = result.get("conversations_written") or result.get("conversations")
    bound = minimal_requests(result, parts) / (limit / 10) if "contacts_unique" in result else None
    return {
        "scenario": name,
        "wall s": f"{wall:.1f}",
        "requests": requests,
        "by endpoint": ", ".join(f"{k} {v}" for k, v in sorted(by.items())),
        "429s": result.get("api_rate_limited", result.get("rate_limited", 0)),
        "conv/s": f"{(conversations or 0) / wall:.0f}",
        "wall ÷ bound": f"{wall / bound:.2f}" if bound else "-",
        "peak RSS MB": f"{rss:.0f}" if rss else "-",
    }


def cli_run(env: dict[str, str], sandbox: Sandbox, args: list[str]) -> dict:
    """One whole ``intercom-enrich run`` in a fresh process, as a scheduled run or a person
    starts it: interpreter start, imports, pre-flight, (in ephemeral mode) the temporary Prefect
    server's start, the flow, exit. The window's metrics come from its manifest."""
    job_env = {**env, "INTERCOM_BASE_URL": sandbox.url, "INTERCOM_ACCESS_TOKEN": sandbox.token}
    command = [sys.executable, "-m", "intercom_enrichment_flows.cli", "run", *args]
    began = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=job_env, capture_output=True, text=True,
                          timeout=3600)  # fmt: skip
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"intercom-enrich run failed:\n{proc.stderr[-4000:]}")
    output = Path(args[args.index("--output") + 1])
    (manifest,) = (json.loads(p.read_text()) for p in (output / "_runs").glob("*.json"))
    return {"wall": wall, "result": manifest["metrics"]}


def s1(env: dict[str, str], out: Path) -> list[dict]:
    """Issue 12: whole CLI runs against the naive baseline, in the same benchmark run: with a
    running Prefect server, and in ephemeral mode (the temporary server's start included)."""
    ephemeral = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    ephemeral["PREFECT_HOME"] = str(out / "ephemeral-home")
    (out / "ephemeral-home").mkdir(parents=True, exist_ok=True)
    sb = start_sandbox(20_000, 6_000, 1, LIMIT)
    window = ["--start", START.isoformat(), "--end", (START + timedelta(days=1)).isoformat()]
    try:
        # A first ephemeral run creates and migrates the home's database, as on a machine's
        # first run ever; it is not timed (benchmarks/overhead.py shows it).
        cli_run(ephemeral, sb, [*window, "--output", str(out / "s1-warm")])
        wait_for_fresh_rate_window()
        server = cli_run(env, sb, [*window, "--output", str(out / "s1-server")])
        wait_for_fresh_rate_window()
        eph = cli_run(ephemeral, sb, [*window, "--output", str(out / "s1-ephemeral")])
        params = {"start": START, "end": START + timedelta(days=1)}
        plain = run_job("plain", {**params, "output": str(out / "s1-plain")}, sb, env)
        wait_for_fresh_rate_window()
        naive = asyncio.run(run_naive(sb.url, sb.token, params["start"], params["end"]))
    finally:
        sb.stop()
    rows = [
        row("S1 CLI run, running Prefect server", server["wall"], server["result"], LIMIT, None,
            False),
        row("S1 CLI run, ephemeral Prefect", eph["wall"], eph["result"], LIMIT, None, False),
        row("S1 plain asyncio (no Prefect, after imports)", plain["wall"], plain["result"], LIMIT,
            plain["peak_rss_mb"], False),
        row("S1 naive baseline", naive["wall"], naive, LIMIT, None, False),
    ]  # fmt: skip
    result = server["result"]
    speedup = naive["wall"] / server["wall"], naive["wall"] / eph["wall"]
    checks = {
        "requests ≤ 1.1 × minimal": result["api_requests"] <= 1.1 * minimal_requests(result, False),
        f"server {speedup[0]:.1f}× ≥ 32× naive": speedup[0] >= 32,
        f"ephemeral {speedup[1]:.1f}× ≥ 16× naive": speedup[1] >= 16,
        "no 429": result["api_rate_limited"] == 0 and eph["result"]["api_rate_limited"] == 0,
    }
    return [*rows, {"scenario": "S1 targets", "wall s": _verdict(checks)}]


def s2(env: dict[str, str], out: Path) -> list[dict]:
    sb = start_sandbox(1_000, 300, 1, 167)
    try:
        one_end = START + timedelta(seconds=86)  # holds exactly one conversation
        wait_for_fresh_rate_window()
        one = run_job(
            "window",
            {"start": START, "end": one_end, "output": str(out / "s2-one"), "include_parts": True},
            sb,
            env,
        )
        wait_for_fresh_rate_window()
        flow = run_job(
            "window",
            {
                "start": START,
                "end": START + timedelta(days=1),
                "output": str(out / "s2"),
                "include_parts": True,
            },
            sb,
            env,
        )
    finally:
        sb.stop()
    result = flow["result"]
    ok_requests = result["api_requests"] - result["api_rate_limited"]
    beyond = flow["wall"] - one["wall"]
    checks = {
        f"time beyond 1-conv run {beyond:.1f} s ≤ 1.05 × {ok_requests} ÷ 16.7/s": beyond
        <= 1.05 * ok_requests / 16.7,
        "429s < 2% of requests": result["api_rate_limited"] < 0.02 * result["api_requests"],
    }
    return [
        row("S2 one conversation", one["wall"], one["result"], 167, one["peak_rss_mb"], True),
        row("S2 parts", flow["wall"], result, 167, flow["peak_rss_mb"], True),
        {"scenario": "S2 targets", "wall s": _verdict(checks)},
    ]


def s3(env: dict[str, str], out: Path) -> list[dict]:
    rows, peaks = [], {}
    for total, days in ((50_000, 2.5), (200_000, 10.0)):
        sb = start_sandbox(total, total * 3 // 10, days, LIMIT)
        try:
            params = {
                "start": START,
                "end": START + timedelta(days=days),
                "every": "1d",
                "output": str(out / f"s3-{total}"),
                "max_concurrent_windows": 2,
            }
            job = run_job("backfill", params, sb, env)
        finally:
            sb.stop()
        peaks[total] = job["peak_rss_mb"]
        rows.append(
            {
                "scenario": f"S3 backfill {total:,} conversations ({math.ceil(days)} windows)",
                "wall s": f"{job['wall']:.1f}",
                "conv/s": f"{total / job['wall']:.0f}",
                "peak RSS MB": f"{job['peak_rss_mb']:.0f}",
            }
        )
    checks = {
        "peak RSS ≤ 1 GiB": peaks[200_000] <= 1024,
        "200k peak within 20% of 50k peak": peaks[200_000] <= 1.2 * peaks[50_000],
    }
    return [*rows, {"scenario": "S3 targets", "wall s": _verdict(checks)}]


def s4(env: dict[str, str], out: Path) -> list[dict]:
    """Issue 12: peak memory of one window follows the batch, not the window's size."""
    rows, peaks = [], {}
    for total in (20_000, 200_000):
        sb = start_sandbox(total, total * 3 // 10, 1, LIMIT)
        try:
            params = {"start": START, "end": START + timedelta(days=1)}
            job = run_job("window", {**params, "output": str(out / f"s4-{total}")}, sb, env)
        finally:
            sb.stop()
        peaks[total] = job["peak_rss_mb"]
        rows.append(
            row(
                f"S4 one window of {total:,}",
                job["wall"],
                job["result"],
                LIMIT,
                peaks[total],
                False,
            )
        )
    checks = {
        "200k window peak RSS ≤ 600 MiB": peaks[200_000] <= 600,
        "200k peak within 20% of 20k peak": peaks[200_000] <= 1.2 * peaks[20_000],
    }
    return [*rows, {"scenario": "S4 targets", "wall s": _verdict(checks)}]


def s5(env: dict[str, str], out: Path) -> list[dict]:
    """Issue 12: a 10-window backfill of 20,000 a day within 20% of one of 5,000 a day."""
    rows, peaks = [], {}
    for per_day in (5_000, 20_000):
        total = per_day * 10
        sb = start_sandbox(total, total * 3 // 10, 10.0, LIMIT)
        try:
            params = {
                "start": START,
                "end": START + timedelta(days=10),
                "every": "1d",
                "output": str(out / f"s5-{per_day}"),
                "max_concurrent_windows": 2,
            }
            job = run_job("backfill", params, sb, env)
        finally:
            sb.stop()
        peaks[per_day] = job["peak_rss_mb"]
        rows.append(
            {
                "scenario": f"S5 backfill 10 windows of {per_day:,}",
                "wall s": f"{job['wall']:.1f}",
                "conv/s": f"{total / job['wall']:.0f}",
                "peak RSS MB": f"{job['peak_rss_mb']:.0f}",
            }
        )
    checks = {"20k/day peak within 20% of 5k/day peak": peaks[20_000] <= 1.2 * peaks[5_000]}
    return [*rows, {"scenario": "S5 targets", "wall s": _verdict(checks)}]


def s6(env: dict[str, str], out: Path) -> list[dict]:
    """Issue 12: two concurrent runs with parts on one app at 167 calls per 10 s, without and
    with a shared global limit: 429s ≤ 5% and ≤ 2% of requests, every conversation and part."""
    from concurrent.futures import ThreadPoolExecutor

    rows, share, complete = [], {}, {}
    for shared in (False, True):
        params: dict[str, Any] = {
            "start": START,
            "end": START + timedelta(days=1),
            "include_parts": True,
        }
        if shared:
            budget = ["budget", "bench-intercom", "--calls-per-10s", "167"]
            cli = [sys.executable, "-m", "intercom_enrichment_flows.cli", *budget]
            subprocess.run(cli, cwd=ROOT, env=env, check=True, capture_output=True)
            params["global_limit"] = "bench-intercom"
        sb = start_sandbox(1_000, 300, 1, 167)
        try:
            wait_for_fresh_rate_window()
            with ThreadPoolExecutor(2) as pool:
                outputs = [str(out / f"s6-{shared}-{k}") for k in range(2)]
                jobs = [
                    pool.submit(run_job, "window", {**params, "output": o}, sb, env)
                    for o in outputs
                ]
                results = [j.result() for j in jobs]
        finally:
            sb.stop()
        requests = sum(r["result"]["api_requests"] for r in results)
        limited = sum(r["result"]["api_rate_limited"] for r in results)
        share[shared] = limited / max(requests, 1)
        complete[shared] = all(
            r["result"]["conversations_written"] == 1_000 and r["result"]["parts_fetch_failed"] == 0
            for r in results
        )
        name = "global limit" if shared else "no shared budget"
        rows.append(
            {
                "scenario": f"S6 two runs with parts, {name}",
                "wall s": f"{max(r['wall'] for r in results):.1f}",
                "requests": requests,
                "429s": f"{limited} ({100 * share[shared]:.1f}%)",
                "peak RSS MB": f"{max(r['peak_rss_mb'] for r in results):.0f}",
            }
        )
    checks = {
        "429s ≤ 5% without a shared budget": share[False] <= 0.05,
        "429s ≤ 2% with a global limit": share[True] <= 0.02,
        "every conversation and part, both runs": complete[False] and complete[True],
    }
    return [*rows, {"scenario": "S6 targets", "wall s": _verdict(checks)}]


def _verdict(checks: dict[str, bool]) -> str:
    return "; ".join(f"{'PASS' if ok else 'FAIL'} {name}" for name, ok in checks.items())


def table(rows: list[dict]) -> str:
    columns = [
        "scenario",
        "wall s",
        "requests",
        "by endpoint",
        "429s",
        "conv/s",
        "wall ÷ bound",
        "peak RSS MB",
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="intercom-enrichment benchmarks")
    parser.add_argument("--only", nargs="*", default=["S1", "S2", "S3", "S4", "S5", "S6"])
    args = parser.parse_args()
    scenarios = {"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6}
    with tempfile.TemporaryDirectory() as tmp:
        home, out = Path(tmp) / "prefect", Path(tmp) / "out"
        home.mkdir()
        with prefect_server(home) as api:
            env = prefect_env(home, api, PREFECT_LOGGING_LEVEL="WARNING")
            env["PATH"] = os.environ.get("PATH", "")
            rows = []
            for name in args.only:
                print(f"running {name} …", file=sys.stderr, flush=True)
                rows += scenarios[name.upper()](env, out)
    print(table(rows))


if __name__ == "__main__":
    main()
