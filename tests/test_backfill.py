"""Backfills: skip completed windows, and a backfill killed with SIGKILL resumes to the same
dataset as an uninterrupted one — no duplicates, no holes, no partial files."""

import json
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_enrichment.objects.registry import TABLES
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.windows import Window

from .backfill_cli import start_backfill

START = datetime(2026, 10, 1, tzinfo=UTC)
HOURS = 8

pytestmark = pytest.mark.usefixtures("prefect_harness")


def backfill_cli(server, output: Path) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return start_backfill(server, str(output), START, HOURS)


def dataset(root: Path) -> dict[str, list[dict]]:
    return {
        str(p.relative_to(root)): pq.read_table(p).drop_columns(["extracted_at"]).to_pylist()
        for p in sorted(root.rglob("*.parquet"))
        if p.relative_to(root).parts[0] in TABLES  # window tables; current/, marts/ derive
    }


def completed(root: Path) -> int:
    runs = root / "_runs"
    return (
        sum(json.loads(p.read_text())["status"] == "completed" for p in runs.glob("*.json"))
        if runs.exists()
        else 0
    )


@pytest.mark.slow
def test_killed_backfill_resumes_to_the_same_dataset(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(
        conversations=400,
        contacts=120,
        window_start=START,
        window_end=START + timedelta(hours=HOURS),
        latency_ms=(5, 15),
    )
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    proc = backfill_cli(server, reference)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert f"{HOURS} windows run, 0 already complete" in out

    # Once three windows are complete, the sandbox holds the next request unanswered: the
    # backfill is then certainly still at work when it is killed.
    server.hold.hold_when(lambda: completed(resumed) >= 3)
    proc = backfill_cli(server, resumed)
    assert server.hold.held.wait(240), "the backfill never reached its fourth window"
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server.hold.release()
    done_before = completed(resumed)
    assert 3 <= done_before < HOURS

    proc = backfill_cli(server, resumed)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert f"{HOURS - done_before} windows run, {done_before} already complete" in out
    assert "backfill" in err  # the progress bar
    assert dataset(resumed) == dataset(reference)
    assert not list(resumed.rglob("*.tmp"))
    table = ds.dataset(resumed / "conversations", format="parquet", partitioning="hive").to_table()
    ids = table.column("conversation_id").to_pylist()
    assert len(ids) == len(set(ids)) == 400


def test_force_reruns_completed_windows_and_bad_ranges_are_refused(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment_flows.backfill import plan_backfill

    storage = Storage(str(tmp_path))
    now = START + timedelta(days=30)
    todo, done = plan_backfill(
        START, START + timedelta(hours=3), "1h", storage, force=False, now=now
    )
    assert (len(todo), len(done)) == (3, 0)
    first = Window(START, START + timedelta(hours=1))
    storage.write_text(f"_runs/{first.key}.json", json.dumps({"status": "completed"}))
    todo, done = plan_backfill(
        START, START + timedelta(hours=3), "1h", storage, force=False, now=now
    )
    assert done == [first] and first not in todo
    todo, done = plan_backfill(
        START, START + timedelta(hours=3), "1h", storage, force=True, now=now
    )
    assert len(todo) == 3 and done == []
    storage.write_text(f"_runs/{first.key}.json", json.dumps({"status": "incomplete"}))
    todo, _ = plan_backfill(START, START + timedelta(hours=3), "1h", storage, force=False, now=now)
    assert first in todo  # an incomplete window is run again
    from intercom_enrichment.errors import ConfigError

    with pytest.raises(ConfigError, match="future"):
        plan_backfill(START, now + timedelta(days=1), "1h", storage, force=False, now=now)
