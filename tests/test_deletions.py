"""A conversation deleted in Intercom disappears everywhere: from the window files that held it
(rewritten atomically, manifests updated), from ``current/`` and from the marts; the tombstones
list it; a rerun and ``refresh --full`` agree. On a version before 2.16 deletions cannot be
seen: the run says so and goes on."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import AsyncioExecutor, WindowJob, run_pipeline
from intercom_enrichment.marts import refresh
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import read_manifest
from intercom_enrichment.windows import Window

from .marts_fixtures import full_rebuild, rows_of

START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = [Window(START + timedelta(days=d), START + timedelta(days=d + 1)) for d in range(2)]


def run(server: Any, out: Path, window: Window, version: str = "2.16") -> Any:
    settings = IntercomSettings(
        token=SecretStr(server.token), base_url=server.url, api_version=version
    )
    with AsyncioExecutor(settings, budget=RateBudget()) as executor:
        job = WindowJob(window, str(out), 100, EnrichOptions(include_parts=True))
        return run_pipeline(settings, job, executor)


def ids_in(root: Path, table: str, key: str = "conversation_id") -> set[str]:
    folder = root / table
    if not folder.exists():
        return set()
    return set(
        ds.dataset(folder, format="parquet", partitioning="hive").to_table()[key].to_pylist()
    )


def test_deleted_conversations_disappear_everywhere(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(
        conversations=300,
        contacts=80,
        tickets=20,
        parts_max=6,
        window_end=START + timedelta(days=2),
    )
    world = server.world
    out = tmp_path / "out"
    for day in DAYS:
        assert run(server, out, day).incomplete is None
    refresh(str(out))
    first_day = [world.conversation_id(i) for i in range(0, 150, 37)]  # in the first window
    second_day = [world.conversation_id(i) for i in (160, 299)]
    victims = set(first_day + second_day)
    assert victims <= ids_in(out, "conversations") and victims <= ids_in(out, "conversation_parts")
    for conv_id in sorted(victims):
        world.delete_conversation(conv_id)
    manifest_before = read_manifest(Storage(str(out)), DAYS[0])
    result = run(server, out, DAYS[1])  # the next run: reads the deletions, purges day 1
    assert result.incomplete is None
    purged = result.purged["conversations"]
    assert purged.ids == len(victims) and purged.windows == [DAYS[0].key] and not purged.busy
    for table in ("conversations", "conversation_parts"):
        assert not victims & ids_in(out, table), table
    manifest = read_manifest(Storage(str(out)), DAYS[0])
    assert (
        manifest
        and manifest["status"] == "completed"
        and manifest["purged"]["conversations"] == len(first_day)
    )
    rows = {f["path"]: f["rows"] for f in manifest["files"]}
    before = {f["path"]: f["rows"] for f in manifest_before["files"]}
    conv_files = [p for p in rows if p.startswith("conversations/")]
    assert sum(rows[p] for p in conv_files) == sum(before[p] for p in conv_files) - len(first_day)
    for path, count in rows.items():  # the manifest counts what the files hold
        assert pq.read_metadata(out / path).num_rows == count
    tombstones = pq.read_table(out / "dimensions" / "deleted_conversations.parquet").to_pylist()
    assert victims <= {t["conversation_id"] for t in tombstones}
    refresh(str(out))
    for table in ("conversations", "conversation_parts"):
        assert not victims & ids_in(out / "current", table), table
    assert rows_of(out) == full_rebuild(out, tmp_path)
    daily = pq.read_table(out / "marts" / "support_daily.parquet").to_pylist()
    current_count = len(ids_in(out / "current", "conversations"))
    assert sum(d["conversations_created"] for d in daily) == current_count
    # a rerun of the purged window agrees, and a second purge finds nothing to do
    again = run(server, out, DAYS[0])
    assert not again.purged and not victims & ids_in(out, "conversations")
    refresh(str(out))
    assert rows_of(out) == full_rebuild(out, tmp_path)


def test_a_deletion_listed_in_the_same_run_is_never_written(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Deleted between the search and the tombstones (simulated: the sandbox deletes it after
    listing it): the run leaves it out and counts it."""
    server = sandbox(conversations=60, contacts=20, tickets=0)
    world = server.world
    victim = world.conversation_id(7)
    original = world.delete_conversation
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    job = WindowJob(DAYS[0], str(tmp_path), 100, EnrichOptions())

    class DeleteAfterListing(AsyncioExecutor):
        def list_window(self, obj, window):  # type: ignore[no-untyped-def]
            listed = super().list_window(obj, window)
            if obj.kind == "conversation":
                original(victim)
            return listed

    with DeleteAfterListing(settings, budget=RateBudget()) as executor:
        result = run_pipeline(settings, job, executor)
    assert result.incomplete is None
    assert result.metrics.count("conversations_deleted") == 1
    assert result.metrics.count("conversations_written") == 59
    assert victim not in ids_in(tmp_path, "conversations")


def test_before_2_16_deletions_cannot_be_seen_and_the_run_goes_on(
    sandbox, tmp_path: Path, caplog
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=40, contacts=10, tickets=0)
    server.world.delete_conversation(server.world.conversation_id(3))
    result = run(server, tmp_path, DAYS[0], version="2.14")
    assert result.incomplete is None and not result.purged
    assert "deleted conversations cannot be read with it" in caplog.text
    reasons = result.metrics.failure_reasons
    assert any("deleted_conversations: not read (HTTP 400)" in r for r in reasons)
    assert not (tmp_path / "dimensions" / "deleted_conversations.parquet").exists()
