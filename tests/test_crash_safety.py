"""Crash safety: a multi-window backfill (the CLI, in a subprocess) is killed with SIGKILL at a
few random, seeded moments while it works. After every kill a reader sees only complete files
(every ``*.parquet`` opens, ``pyarrow.dataset`` reads every table, every window marked completed
has exactly the files and rows its manifest lists); a final rerun then yields the dataset of an
uninterrupted run, with no temporary file left behind. tests/test_backfill.py kills once, at a
fixed point; this kills at random points, including in the middle of a window."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_enrichment.objects.registry import TABLES

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 10, 1, tzinfo=UTC)
HOURS = 10
SEED = 5  # the kill moments are random, but the same on every run of the test
KILLS = 3


def backfill(server, output: Path) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    env.update(
        INTERCOM_BASE_URL=server.url,
        INTERCOM_ACCESS_TOKEN=server.token,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )
    command = [
        *(sys.executable, "-m", "intercom_enrichment_flows.cli", "backfill"),
        *("--start", START.isoformat(), "--end", (START + timedelta(hours=HOURS)).isoformat()),
        *("--every", "1h", "--output", str(output), "--max-concurrent", "2", "--include-parts"),
    ]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def rows_by_file(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        str(p.relative_to(root)): pq.read_table(p).drop_columns(["extracted_at"]).to_pylist()
        for p in sorted(root.rglob("*.parquet"))
        if p.relative_to(root).parts[0] in TABLES  # window tables; current/, marts/ derive
    }


def assert_readers_see_only_complete_files(root: Path) -> int:
    """What a reader may look at right after a crash; returns the windows marked completed."""
    for path in root.rglob("*.parquet"):
        pq.read_metadata(path)  # raises on a partial or corrupt file
        assert not path.name.startswith((".", "_")), path
    for table in ("conversations", "contacts", "conversation_parts"):
        if (root / table).exists():
            ds.dataset(root / table, format="parquet", partitioning="hive").to_table()
    done = 0
    for manifest_file in (root / "_runs").glob("*.json"):
        manifest = json.loads(manifest_file.read_text())  # never half-written
        if manifest["status"] != "completed":
            continue
        done += 1
        for entry in manifest["files"]:
            path = root / entry["path"]
            if path.suffix == ".parquet":
                assert pq.read_metadata(path).num_rows == entry["rows"], entry
            else:
                assert len(path.read_text().splitlines()) == entry["rows"], entry
    return done


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_backfill_killed_at_random_moments_resumes_to_the_same_dataset(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(
        conversations=300,
        contacts=100,
        window_start=START,
        window_end=START + timedelta(hours=HOURS),
        parts_max=3,
        latency_ms=(2, 8),
    )
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    proc = backfill(server, reference)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]

    per_window = sum(server.stats.snapshot()["requests"].values()) / HOURS
    rng = random.Random(SEED)
    progress: list[int] = []
    for _ in range(KILLS):
        # Kill at a random request of what is left to do (at most its first half, so the run is
        # certainly still at work): the sandbox holds that request unanswered until the kill.
        remaining = (HOURS - (progress[-1] if progress else 0)) * per_window
        seen = sum(server.stats.snapshot()["requests"].values())
        at = seen + rng.randint(1, max(1, int(remaining / 2)))
        server.hold.hold_when(lambda at=at: server.stats.total_requests() >= at)
        proc = backfill(server, resumed)
        assert server.hold.held.wait(120), "the backfill finished before the chosen request"
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        server.hold.release()
        progress.append(assert_readers_see_only_complete_files(resumed))
    assert progress[0] < HOURS  # the first kill interrupted it

    proc = backfill(server, resumed)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert f"{HOURS - progress[-1]} windows run, {progress[-1]} already complete" in out
    assert assert_readers_see_only_complete_files(resumed) == HOURS
    assert rows_by_file(resumed) == rows_by_file(reference)
    assert not list(resumed.rglob("*.tmp"))
    ids = (
        ds.dataset(resumed / "conversations", format="parquet", partitioning="hive")
        .to_table()
        .column("conversation_id")
        .to_pylist()
    )
    assert len(ids) == len(set(ids)) == 300


class Crash(BaseException):
    """Stands for SIGKILL inside the process: nothing after it runs, no cleanup either."""


@pytest.mark.slow
def test_a_crash_at_any_step_of_publishing_leaves_readers_only_complete_files(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Deterministic complement of the random kills: crash at the k-th storage operation of
    publishing a window (over an earlier complete run of it), for every k; each time readers
    see only complete files, the window is not marked completed unless its manifest was written
    last, and a rerun gives the reference dataset."""
    from intercom_enrichment.output.storage import Storage
    from intercom_enrichment.output.writer import window_completed
    from tests.fault_cases import FULL, full_window, run_pipeline

    server = sandbox(conversations=30, contacts=15, no_contact_share=0.2, parts_max=3)
    window = full_window(server.world.config)
    run_pipeline(server, tmp_path / "reference", options=FULL)  # also the earlier run, below
    reference = rows_by_file(tmp_path / "reference")
    steps = {"n": 0, "crash_at": 0}
    real = {name: getattr(Storage, name) for name in ("publish", "remove", "write_text")}

    def crashing(name: str):  # type: ignore[no-untyped-def]
        def step(self, *args):  # type: ignore[no-untyped-def]
            steps["n"] += 1
            if steps["n"] == steps["crash_at"]:
                raise Crash(f"{name}{args}")
            return real[name](self, *args)

        return step

    for name in real:
        monkeypatch.setattr(Storage, name, crashing(name))
    crash_at, crashed_somewhere, untouched = 0, True, 0
    while crashed_somewhere:
        crash_at += 1
        root = tmp_path / f"crash-{crash_at}"
        shutil.copytree(tmp_path / "reference", root)  # an earlier, complete run of the window
        steps.update(n=0, crash_at=crash_at)
        try:
            run_pipeline(server, root, options=FULL)
            crashed_somewhere = False
        except Crash:
            assert_readers_see_only_complete_files(root)
            # The manifest is never deleted: publication first replaces it with a `publishing`
            # marker, so the window reads completed only while the earlier run's manifest (and
            # so its files) is untouched.
            manifest = (root / "_runs" / f"{window.key}.json").read_text()
            earlier = (
                manifest == (tmp_path / "reference" / "_runs" / f"{window.key}.json").read_text()
            )
            assert window_completed(Storage(str(root)), window) == earlier
            untouched += earlier
            assert not (root / "_runs" / f"{window.key}.lease").exists()
        steps.update(n=0, crash_at=0)
        run_pipeline(server, root, options=FULL)  # the rerun a backfill would do
        assert rows_by_file(root) == reference, f"crash at step {crash_at}"
        assert window_completed(Storage(str(root)), window)
        assert not list(root.rglob("*.tmp")), f"crash at step {crash_at}"
    assert crash_at > 5  # every file, the manifest, and the steps in between were crash points
    assert 0 < untouched < crash_at - 1  # crashes before and after the marker were both tried
