"""The refresh as the final task of real runs: two window runs against the sandbox with a
conversation updated in between; a backfill killed with SIGKILL and resumed; output on S3."""

import asyncio
import json
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from intercom_enrichment.sandbox.vocab import ADMINS, TEAM_IDS

from .backfill_cli import start_backfill
from .test_object_store import arrow_s3

START = datetime(2026, 10, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def history(root: Path) -> list[dict[str, Any]]:
    return (
        ds.dataset(root / "conversations", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )


def current(root: Path) -> dict[str, dict[str, Any]]:
    rows = ds.dataset(root / "current" / "conversations", partitioning="hive").to_table()
    ids = rows.column("conversation_id").to_pylist()
    assert len(ids) == len(set(ids)), "a conversation is twice in current/"
    return {r["conversation_id"]: r for r in rows.to_pylist()}


def latest_by_hand(root: Path) -> dict[str, tuple[Any, ...]]:
    """The oracle: per id, the window row with the greatest (updated_at, extracted_at)."""
    best: dict[str, dict[str, Any]] = {}
    for row in history(root):
        seen = best.get(row["conversation_id"])
        if seen is None or (row["updated_at"], row["extracted_at"]) > (
            seen["updated_at"],
            seen["extracted_at"],
        ):
            best[row["conversation_id"]] = row
    return {k: (r["updated_at"], r["state"], r["admin_assignee_id"]) for k, r in best.items()}


def test_two_window_runs_with_an_update_in_between(sandbox, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    server = sandbox(conversations=60, contacts=20, window_start=START, window_end=START + 2 * HOUR)
    monkeypatch.setenv("INTERCOM_BASE_URL", server.url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", server.token)
    enrich_conversations(start=START, end=START + HOUR, output=str(tmp_path))
    # The names: from the snapshots the run took of the sandbox's /admins and /teams.
    teams = pq.read_table(tmp_path / "dimensions" / "teams.parquet").to_pylist()
    team_names = {t["team_id"]: t["name"] for t in teams}
    assert set(team_names) == {str(t) for t in TEAM_IDS}
    first = current(tmp_path)
    assert len(first) == 30
    chosen = next(c for c in first.values() if c["state"] == "open")
    new_admin = next(a for a in ADMINS if a[0] != chosen["admin_assignee_id"])
    new_team = next(t for t in sorted(team_names) if t != chosen["team_assignee_id"])
    moved_to = START + HOUR + timedelta(minutes=42)
    server.world.update_conversation(
        chosen["conversation_id"],
        int(moved_to.timestamp()),
        state="closed",
        admin_assignee_id=new_admin[0],
        team_assignee_id=new_team,
    )

    enrich_conversations(start=START + HOUR, end=START + 2 * HOUR, output=str(tmp_path))
    now = current(tmp_path)
    assert len(now) == 60  # 30 + 30, the moved one once
    row = now[chosen["conversation_id"]]
    assert (row["state"], row["open"], row["updated_at"]) == ("closed", False, moved_to)
    assert (row["admin_assignee_id"], row["admin_assignee_name"]) == new_admin[:2]
    assert (row["team_assignee_id"], row["team_assignee_name"]) == (new_team, team_names[new_team])
    assert row["created_at"] == chosen["created_at"]
    ids = [r["conversation_id"] for r in history(tmp_path)]
    assert Counter(ids)[chosen["conversation_id"]] == 2  # the history keeps both versions
    assert {k: (r["updated_at"], r["state"], r["admin_assignee_id"]) for k, r in now.items()} == (
        latest_by_hand(tmp_path)
    )
    daily = pq.read_table(tmp_path / "marts" / "support_daily.parquet").to_pylist()
    by_day = Counter(r["created_at"].date() for r in now.values())
    closed = Counter(r["created_at"].date() for r in now.values() if r["state"] == "closed")
    assert {r["day"]: r["conversations_created"] for r in daily} == dict(by_day)
    assert {r["day"]: r["conversations_closed"] for r in daily if r["conversations_closed"]} == (
        dict(closed)
    )

    async def artifact() -> str:
        async with get_client() as client:
            found = await client.read_artifacts()
            return next(a.data for a in found if a.key == "support-daily-adhoc")

    assert "| day | created | closed |" in asyncio.run(artifact())


def completed(root: Path) -> int:
    """Windows whose manifest says completed (not the ``publishing`` marker of a run at work)."""
    runs = root / "_runs"
    manifests = runs.glob("*.json") if runs.exists() else []
    return sum(json.loads(p.read_text()).get("status") == "completed" for p in manifests)


@pytest.mark.slow
def test_a_killed_and_resumed_backfill_keeps_current_exact(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hours = 6
    server = sandbox(
        conversations=240,
        contacts=80,
        window_start=START,
        window_end=START + hours * HOUR,
        latency_ms=(5, 15),
    )
    out = tmp_path / "out"
    # Once two windows are complete the sandbox holds the next request: the kill then lands
    # while the backfill certainly works (as in tests/test_backfill.py).
    server.hold.hold_when(lambda: completed(out) >= 2)
    proc = start_backfill(server, str(out), START, hours)
    assert server.hold.held.wait(240), "the backfill never reached its third window"
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server.hold.release()
    done = completed(out)
    assert 2 <= done < hours
    # Conversations of the finished windows are updated later in the range: their old rows
    # stay in the early window files, their new ones land in the last hour's.
    early = history(out)[:5]
    for k, conv in enumerate(early):
        server.world.update_conversation(
            conv["conversation_id"],
            int((START + (hours - 1) * HOUR + timedelta(minutes=k)).timestamp()),
            state="closed",
            admin_assignee_id=ADMINS[k][0],
        )

    proc = start_backfill(server, str(out), START, hours)
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert f"{done} already complete" in stdout
    now = current(out)
    assert len(now) == 240
    assert {k: (r["updated_at"], r["state"], r["admin_assignee_id"]) for k, r in now.items()} == (
        latest_by_hand(out)
    )
    for k, conv in enumerate(early):
        assert now[conv["conversation_id"]]["admin_assignee_id"] == ADMINS[k][0]
        assert now[conv["conversation_id"]]["state"] == "closed"
    before = {k: (r["updated_at"], r["state"]) for k, r in now.items()}

    # A forced rerun of every window keeps current/ the same: no duplicate, no stale row.
    proc = start_backfill(server, str(out), START, hours, "--force")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert {k: (r["updated_at"], r["state"]) for k, r in current(out).items()} == before
    assert not list(out.rglob("*.tmp"))


@pytest.fixture
def fresh_s3(s3):  # type: ignore[no-untyped-def]
    """The moto server of this module; s3fs caches clients (with their endpoint) per process,
    so drop them before and after, for the other modules' servers."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    yield s3
    s3fs.S3FileSystem.clear_instance_cache()


def test_refresh_publishes_onto_s3(fresh_s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment.marts import refresh, report

    from .marts_fixtures import conversation, hour_window, write_window

    out = "s3://lake/marts"
    write_window(out, hour_window(0, 1), [conversation("1", 0, 0.5, admin_assignee_id="11")])
    write_window(
        out,
        hour_window(1, 2),
        [conversation("1", 0, 1.5, state="closed"), conversation("2", 1.1, 1.2)],
    )
    first = refresh(out)
    assert first.windows_folded == 2
    fs = arrow_s3(fresh_s3)
    table = ds.dataset("lake/marts/current/conversations", filesystem=fs, partitioning="hive")
    rows = {r["conversation_id"]: r for r in table.to_table().to_pylist()}
    assert set(rows) == {"1", "2"} and rows["1"]["state"] == "closed"
    assert "2026-10-01" in report(out)
    write_window(out, hour_window(2, 3), [conversation("2", 1.1, 2.5, state="closed")])
    assert refresh(out).windows_folded == 1
    daily = pq.read_table("lake/marts/marts/support_daily.parquet", filesystem=fs).to_pylist()
    assert [(r["conversations_created"], r["conversations_closed"]) for r in daily] == [(2, 2)]
    names = [i.path for i in fs.get_file_info(pafs.FileSelector("lake/marts", recursive=True))]
    assert not [n for n in names if n.endswith(".tmp")]
