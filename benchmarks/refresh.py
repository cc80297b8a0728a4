"""Refresh time and peak RSS of ``current/`` + ``marts/`` at 1M and 5M conversation rows.

    .venv/bin/python -m benchmarks.refresh [--sizes 1000000 5000000] [--days 365]

For each size: a synthetic history (benchmarks/synthetic_history.py: one daily window file per
day, real schema, 20 % of rows re-updates of earlier conversations) is written, then measured,
each refresh in its own child process (peak RSS is the child's, from getrusage):
- ``first``: the first refresh of the whole history (nothing folded yet);
- ``full``: ``refresh --full`` over an existing current/ (rebuild from every window);
- ``hourly``: one more hourly window (a day's rows ÷ 24) folded in incrementally.
Wall time depends on what else the machine runs; CPU s (user + system of the child) less so.
Targets (issue 11): first/full ≤ 30 s and ≤ 1.5 GiB at 5M; hourly after 5M ≤ 5 s.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic_history import add_hour, generate

ROOT = Path(__file__).resolve().parents[1]


def child(output: str, full: bool) -> None:
    from intercom_enrichment.marts import refresh

    result = refresh(output, full=full)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    print(
        json.dumps(
            {
                "seconds": result.seconds,
                "cpu": cpu,
                "peak_mib": peak_kib / 1024,
                "windows": result.windows_folded,
                "months": len(result.months),
                "rows": result.conversations,
            }
        )
    )


def measure(output: Path, full: bool = False) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.refresh", "--child", str(output)]
    proc = subprocess.run(
        [*args, *(["--full"] if full else [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--child")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.full)
        return
    lines = [
        "| history rows | refresh | windows folded | months rewritten | current rows "
        "| wall s | CPU s | peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="refresh-bench-") as tmp:
            output = Path(tmp)
            began = time.monotonic()
            history = generate(output, size, args.days)
            print(f"generated {size:,} rows in {time.monotonic() - began:.1f} s", file=sys.stderr)
            runs = [("first", measure(output)), ("full", measure(output, full=True))]
            add_hour(output, history, args.days, max(size // args.days // 24, 1))
            runs.append(("hourly", measure(output)))
            for name, m in runs:
                lines.append(
                    f"| {size:,} | {name} | {m['windows']} | {m['months']} | {m['rows']:,} "
                    f"| {m['seconds']:.1f} | {m['cpu']:.1f} | {m['peak_mib']:.0f} |"
                )
                print(lines[-1], file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
