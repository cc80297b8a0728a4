"""S1 side by side with Airbyte's source-intercom (issue 22): one benchmark run, interleaved
rounds, a fresh sandbox per run; prints a markdown table and the targets' verdicts.

    .venv/bin/python -m benchmarks.airbyte [--rounds 2]

Airbyte runs in its own environment, ``.venv-airbyte/``, which this benchmark creates on its
first run from ``AIRBYTE_REQUIREMENTS`` (the connector as published, with the CDK it declares)
and reuses after that. It reads the ``conversations`` and ``contacts`` streams to stdout, which
is parsed here to count records and compare ids; its manifest is the package's own, with only
the base URL changed (``benchmarks/airbyte_source.py``).

Per round, each against a fresh sandbox of S1 (20,000 conversations, 6,000 contacts, latency
20–60 ms, 1,666 calls per 10 s) starting on a fresh rate window: Airbyte; this project's whole
CLI run with a running Prefect server; the same in embedded mode on a warm ``PREFECT_HOME``.
Once, in the same run: an embedded run on a fresh home, an empty window with a server and
embedded, and S1 through the plain asyncio pipeline (no Prefect) — the terms of the flow
overhead and embedded-default targets.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from benchmarks.overhead import empty_window
from benchmarks.run import (
    ROOT,
    START,
    Sandbox,
    _verdict,
    cli_run,
    run_job,
    start_sandbox,
    wait_for_fresh_rate_window,
)
from intercom_enrichment.api.settings import CALLS_PER_10S
from intercom_enrichment.sandbox.world import CONVERSATION_ID_BASE
from tests.prefect_server import prefect_env, prefect_server

AIRBYTE_REQUIREMENTS = ["airbyte-source-intercom==0.8.3"]  # declares airbyte-cdk ^4 (4.6.2)
AIRBYTE_ENV = ROOT / ".venv-airbyte"
AIRBYTE_SOURCE = ROOT / "benchmarks" / "airbyte_source.py"
S1 = {"conversations": 20_000, "contacts": 6_000}
STREAMS = ("conversations", "contacts")
# The sandbox's conversation ids (sandbox/world.py): what every run must write, no more.
EXPECTED = [str(CONVERSATION_ID_BASE + i) for i in range(S1["conversations"])]
NAMES = {
    "airbyte": "Airbyte source-intercom, conversations + contacts to stdout",
    "server": "this project, whole CLI run, running Prefect server",
    "embedded": "this project, whole CLI run, embedded (warm home)",
    "same streams": "the same with a server, without companies and tickets (Airbyte's streams)",
}
ID = "conversation_id"  # docs/data-contract.md, conversations


def airbyte_python() -> Path:
    """The Python of Airbyte's environment, created and installed on first use."""
    python = AIRBYTE_ENV / "bin" / "python"
    if not python.exists():
        print("creating .venv-airbyte (once) …", file=sys.stderr, flush=True)
        venv.create(AIRBYTE_ENV, with_pip=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", *AIRBYTE_REQUIREMENTS]
        subprocess.run(pip, check=True, timeout=1800, capture_output=True)
    return python


def airbyte_files(work: Path, token: str) -> tuple[Path, Path]:
    config, catalog = work / "airbyte-config.json", work / "airbyte-catalog.json"
    # Every contact and conversation of the sandbox is updated after this date.
    config.write_text(json.dumps({"start_date": "2020-01-01T00:00:00Z", "access_token": token}))
    streams = [
        {
            "stream": {
                "name": name,
                "json_schema": {},
                "supported_sync_modes": ["full_refresh", "incremental"],
            },
            "sync_mode": "incremental",
            "cursor_field": ["updated_at"],
            "destination_sync_mode": "append",
        }
        for name in STREAMS
    ]
    catalog.write_text(json.dumps({"streams": streams}))
    return config, catalog


def airbyte_run(python: Path, sb: Sandbox, work: Path) -> dict[str, Any]:
    """One whole `read` of both streams in a fresh process; records counted from its stdout."""
    config, catalog = airbyte_files(work, sb.token)
    command = [str(python), str(AIRBYTE_SOURCE), sb.url, "read", "--config", str(config),
               "--catalog", str(catalog)]  # fmt: skip
    out = work / "airbyte-stdout.jsonl"
    with out.open("wb") as sink:  # parsed after the clock stops: no CPU taken from Airbyte
        began = time.perf_counter()
        code = subprocess.run(command, stdout=sink, stderr=subprocess.DEVNULL, timeout=3600)
        wall = time.perf_counter() - began
    ids: dict[str, list[str]] = {name: [] for name in STREAMS}
    errors = []
    with out.open() as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD":
                ids[message["record"]["stream"]].append(message["record"]["data"]["id"])
            elif message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
                errors.append(message["trace"]["error"]["message"])
    if code.returncode != 0 or errors:
        raise RuntimeError(f"Airbyte's read failed ({code.returncode}): {errors[:1]}")
    return {"wall": wall, "ids": ids}


def written_ids(output: Path) -> list[str]:
    """The conversation ids of a window's conversations files."""
    files = sorted(output.glob("conversations/*/*.parquet"))
    return [i for f in files for i in pq.read_table(f, columns=[ID]).column(ID).to_pylist()]


def compare(name: str, expected: list[str], got: list[str]) -> tuple[str, bool]:
    """How `got` differs from `expected` (which must itself hold no duplicates)."""
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    dup = len(got) - len(set(got)) + len(expected) - len(set(expected))
    text = f"{name}: {len(got)}, {len(missing)} missing / {len(extra)} extra / {dup} dup"
    return text, not (missing or extra or dup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    python = airbyte_python()
    window = ["--start", START.isoformat(), "--end", (START + timedelta(days=1)).isoformat()]
    walls: dict[str, list[float]] = {name: [] for name in NAMES}
    checks: list[tuple[str, bool]] = []
    once: dict[str, float] = {}

    def fresh_sandbox() -> Sandbox:
        sb = start_sandbox(S1["conversations"], S1["contacts"], 1, CALLS_PER_10S)
        wait_for_fresh_rate_window()
        return sb

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        api_home, warm_home, fresh_home = root / "server", root / "warm", root / "fresh"
        for home in (api_home, warm_home, fresh_home):
            home.mkdir()
        embedded = prefect_env(warm_home)
        with prefect_server(api_home) as api:
            server = prefect_env(api_home, api, PREFECT_LOGGING_LEVEL="WARNING")
            sb = start_sandbox(100, 30, 1, CALLS_PER_10S)
            try:  # migrate the warm home's database (untimed), then the empty windows
                empty_window(embedded, sb, root / "migrate")
                once["empty, server"] = empty_window(server, sb, root / "empty-server")
                once["empty, embedded warm"] = empty_window(embedded, sb, root / "empty-warm")
            finally:
                sb.stop()
            for k in range(args.rounds):
                print(f"round {k + 1} …", file=sys.stderr, flush=True)
                sb = fresh_sandbox()
                try:
                    got = airbyte_run(python, sb, root)
                finally:
                    sb.stop()
                walls["airbyte"].append(got["wall"])
                airbyte_ids = got["ids"]["conversations"]
                runs = {
                    "server": (server, []),
                    "embedded": (embedded, []),
                    "same streams": (server, ["--no-companies", "--no-tickets"]),
                }
                for mode, (env, options) in runs.items():
                    out = root / f"{mode.replace(' ', '-')}-{k}"
                    sb = fresh_sandbox()
                    try:
                        run = cli_run(env, sb, [*window, *options, "--output", str(out)])
                    finally:
                        sb.stop()
                    walls[mode].append(run["wall"])
                    name = f"{mode} round {k + 1} against Airbyte's"
                    checks.append(compare(name, airbyte_ids, written_ids(out)))
                checks.append(compare(f"Airbyte round {k + 1}", EXPECTED, airbyte_ids))
            sb = fresh_sandbox()
            try:
                fresh = prefect_env(fresh_home)
                out = root / "fresh-out"
                first = cli_run(fresh, sb, [*window, "--output", str(out)])
                once["S1 embedded, fresh home"] = first["wall"]
                wait_for_fresh_rate_window()
                params = {"start": START, "end": START + timedelta(days=1)}
                server_env = {**server, "PATH": os.environ.get("PATH", "")}
                plain = run_job("plain", {**params, "output": str(root / "plain")}, sb, server_env)
                once["S1 plain asyncio (after imports)"] = plain["wall"]
            finally:
                sb.stop()
    print(table(walls, once, checks))


def table(
    walls: dict[str, list[float]], once: dict[str, float], checks: list[tuple[str, bool]]
) -> str:
    median = {name: statistics.median(values) for name, values in walls.items()}
    lines = ["| S1 run | walls s | median s | Airbyte ÷ this |", "|---|---|---|---|"]
    for name, values in walls.items():
        ratio = median["airbyte"] / median[name]
        shown = " / ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {NAMES[name]} | {shown} | {median[name]:.1f} | {ratio:.2f}× |")
    for name, wall in once.items():
        lines.append(f"| {name} | {wall:.1f} | | |")
    bound = once["empty, server"] + 1.25 * once["S1 plain asyncio (after imports)"]
    verdicts = {
        f"server {median['airbyte'] / median['server']:.2f}× ≥ 2× Airbyte": median["airbyte"]
        >= 2 * median["server"],
        f"embedded {median['airbyte'] / median['embedded']:.2f}× ≥ 1× Airbyte": median["airbyte"]
        >= median["embedded"],
        f"flow with a server {median['server']:.1f} s ≤ empty + 1.25 × plain = {bound:.1f} s": (
            median["server"] <= bound
        ),
        f"empty window embedded {once['empty, embedded warm']:.1f} s ≤ 2 × with a server "
        f"{once['empty, server']:.1f} s": once["empty, embedded warm"]
        <= 2 * once["empty, server"],
        "conversations " + "; ".join(text for text, _ in checks): all(ok for _, ok in checks),
    }  # fmt: skip
    lines.append(f"| targets | {_verdict(verdicts)} | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
