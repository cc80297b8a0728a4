"""Fixed cost of a run: one empty window through the whole CLI, in ephemeral mode and against a
running Prefect server, plus where the time goes (imports, pre-flight, the flow itself).

    .venv/bin/python -m benchmarks.overhead [--repeat 3]

The sandbox runs in its own process; each CLI run is a fresh process (as a scheduled run or a
person would start it). Ephemeral mode reuses one PREFECT_HOME (migrated by a first, untimed
run), as on a machine that has run before; the first run on a fresh home is shown separately.
``--busy`` measures the same with every core kept busy by a CPU burner (``tests.cpu``), as on
a machine that runs other work.
"""

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.run import ROOT, START, Sandbox, cli_run, start_sandbox
from intercom_enrichment.api.settings import CALLS_PER_10S
from tests.cpu import busy_cores
from tests.prefect_server import prefect_env, prefect_server

EMPTY = (START - timedelta(days=30), START - timedelta(days=30) + timedelta(hours=1))


def empty_window(env: dict[str, str], sb: Sandbox, output: Path) -> float:
    """Seconds of one whole CLI run of the empty window (``benchmarks.run.cli_run``)."""
    window = ["--start", EMPTY[0].isoformat(), "--end", EMPTY[1].isoformat()]
    return float(cli_run(env, sb, [*window, "--output", str(output)])["wall"])


def import_seconds(env: dict[str, str]) -> float:
    code = "import intercom_enrichment_flows.enrich_conversations, intercom_enrichment_flows.cli"
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="every core busy meanwhile")
    args = parser.parse_args()
    sb = start_sandbox(100, 30, 1, CALLS_PER_10S)
    rows = []
    load = busy_cores() if args.busy else contextlib.nullcontext()
    try:
        with load, tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            api_home, eph_home = root / "server", root / "ephemeral"
            api_home.mkdir()
            eph_home.mkdir()
            eph = prefect_env(eph_home)
            first = empty_window(eph, sb, root / "o")
            rows.append(("ephemeral, first run on a fresh PREFECT_HOME", first))
            walls = [empty_window(eph, sb, root / f"e{k}") for k in range(args.repeat)]
            rows.append(("ephemeral (median)", statistics.median(walls)))
            with prefect_server(api_home) as api:
                env = prefect_env(api_home, api)
                walls = [empty_window(env, sb, root / f"s{k}") for k in range(args.repeat)]
                rows.append(("running server (median)", statistics.median(walls)))
                rows.append(("of which: importing the CLI and the flow", import_seconds(env)))
    finally:
        sb.stop()
    print(f"| empty window, whole CLI run{', every core busy' if args.busy else ''} | wall s |")
    print("|---|---|")
    for name, wall in rows:
        print(f"| {name} | {wall:.1f} |")


if __name__ == "__main__":
    main()
