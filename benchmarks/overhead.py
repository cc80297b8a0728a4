"""Fixed cost of a run: one empty window through the whole CLI, in ephemeral mode and against a
running Prefect server, plus where the time goes (imports, pre-flight, the flow itself).

    .venv/bin/python -m benchmarks.overhead [--repeat 3]

The sandbox runs in its own process; each CLI run is a fresh process (as a scheduled run or a
person would start it). Ephemeral mode reuses one PREFECT_HOME (migrated by a first, untimed
run), as on a machine that has run before; the first run on a fresh home is shown separately.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.run import START, start_sandbox
from tests.prefect_server import prefect_env, prefect_server

ROOT = Path(__file__).resolve().parents[1]
EMPTY = (START - timedelta(days=30), START - timedelta(days=30) + timedelta(hours=1))


def cli_run(env: dict[str, str], output: Path) -> float:
    command = [
        *(sys.executable, "-m", "intercom_enrichment.cli", "run"),
        *("--start", EMPTY[0].isoformat(), "--end", EMPTY[1].isoformat()),
        *("--output", str(output)),
    ]
    began = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return wall


def import_seconds(env: dict[str, str]) -> float:
    code = "import flows.enrich_conversations, intercom_enrichment.cli"
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sb = start_sandbox(100, 30, 1, 1666)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            api_home, eph_home = root / "server", root / "ephemeral"
            api_home.mkdir()
            eph_home.mkdir()
            sandbox = {"INTERCOM_BASE_URL": sb.url, "INTERCOM_ACCESS_TOKEN": sb.token}
            eph = {**prefect_env(eph_home), **sandbox}
            rows.append(("ephemeral, first run on a fresh PREFECT_HOME", cli_run(eph, root / "o")))
            walls = [cli_run(eph, root / f"e{k}") for k in range(args.repeat)]
            rows.append(("ephemeral (median)", statistics.median(walls)))
            with prefect_server(api_home) as api:
                env = {**prefect_env(api_home, api), **sandbox}
                walls = [cli_run(env, root / f"s{k}") for k in range(args.repeat)]
                rows.append(("running server (median)", statistics.median(walls)))
                rows.append(("of which: importing the CLI and the flow", import_seconds(env)))
    finally:
        sb.stop()
    print("| empty window, whole CLI run | wall s |")
    print("|---|---|")
    for name, wall in rows:
        print(f"| {name} | {wall:.1f} |")


if __name__ == "__main__":
    main()
