"""What purging deleted conversations costs on a large history (issue 21).

    .venv/bin/python -m benchmarks.purge [--sizes 1000000 5000000] [--deleted 100] [--days 365]

For each size: a synthetic history (benchmarks/synthetic_history.py: one daily window file per
day, real schema; 20 % of rows re-updates, so a conversation is in several files) is written and
refreshed once; then ``--deleted`` conversation ids, drawn at random from the history, are
purged (``output.purge.purge_deleted``: the key column of every window file read, the files
that hold them rewritten, their manifests updated), the same purge is run again (nothing left
to do), and an incremental refresh folds the purged windows in. Each step in a child process
(peak RSS is the child's). Wall time depends on what else the machine runs.
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.synthetic_history import generate

ROOT = Path(__file__).resolve().parents[1]


def child(output: str, step: str, ids: list[str]) -> None:
    from intercom_enrichment.marts import refresh
    from intercom_enrichment.objects.conversations import CONVERSATION
    from intercom_enrichment.output.purge import purge_deleted
    from intercom_enrichment.output.storage import Storage

    began = time.monotonic()
    out: dict[str, object] = {}
    if step == "refresh":
        result = refresh(output)
        out = {"windows": result.windows_folded, "stale": result.stale_windows}
    else:
        with Storage(output) as storage:
            purged = purge_deleted(storage, (CONVERSATION.table, CONVERSATION.parts), ids)
        out = {"windows": len(purged.windows), "rows": sum(purged.rows.values())}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out |= {"seconds": time.monotonic() - began, "peak_mib": usage.ru_maxrss / 1024}
    print(json.dumps(out))


def measure(output: Path, step: str, ids: list[str]) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.purge", "--child", str(output), "--step", step],
        input=json.dumps(ids),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--deleted", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--child")
    parser.add_argument("--step", default="purge")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.step, json.loads(sys.stdin.read() or "[]"))
        return
    lines = [
        "| history rows | step | deleted ids | windows rewritten | rows removed | wall s "
        "| peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="purge-bench-") as tmp:
            output = Path(tmp)
            history = generate(output, size, args.days)
            measure(output, "refresh", [])
            ids = [
                str(100_000_000 + i)
                for i in random.Random(5).sample(range(history.count), args.deleted)
            ]
            steps = [
                ("purge", ids),
                ("purge again (nothing to do)", ids),
                ("refresh after the purge", []),
            ]
            for name, step_ids in steps:
                m = measure(output, "refresh" if name.startswith("refresh") else "purge", step_ids)
                lines.append(
                    f"| {size:,} | {name} | {len(step_ids)} | {m['windows']} "
                    f"| {m.get('rows', '-')} | {m['seconds']:.1f} | {m['peak_mib']:.0f} |"
                )
                print(lines[-1], file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
