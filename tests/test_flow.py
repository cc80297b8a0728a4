"""The flow under a real Prefect API (prefect_test_harness) against the sandbox on loopback."""

import asyncio
import json
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_enrichment.sandbox import FaultRule
from intercom_enrichment.schema import DIMENSIONS, TABLES

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def world(sandbox, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def start(**config: object):  # type: ignore[no-untyped-def]
        server = sandbox(**config)
        monkeypatch.setenv("INTERCOM_BASE_URL", server.url)
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", server.token)
        monkeypatch.setenv("INTERCOM_MAX_ATTEMPTS", "2")
        return server

    return start


def read(root: Path, table: str):  # type: ignore[no-untyped-def]
    return ds.dataset(root / table, format="parquet", partitioning="hive").to_table()


def test_flow_writes_the_contract_and_publishes_artifacts(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from flows.enrich_conversations import enrich_conversations

    server = world(conversations=600, contacts=200)
    cfg = server.world.config
    result = enrich_conversations(
        start=cfg.window_start,
        end=cfg.window_end,
        output=str(tmp_path),
        batch_size=100,
        include_parts=True,
    )

    assert result["conversations_written"] == 600 == result["conversations_listed"]
    for path in tmp_path.rglob("*.parquet"):
        table = path.parts[len(tmp_path.parts)]
        schema = DIMENSIONS[path.stem] if table == "dimensions" else TABLES[table]
        assert pq.read_schema(path).remove_metadata() == schema, path
    assert {p.stem for p in (tmp_path / "dimensions").glob("*.parquet")} == set(DIMENSIONS)
    conversations = read(tmp_path, "conversations")
    assert conversations.num_rows == 600
    assert len(set(conversations.column("conversation_id").to_pylist())) == 600
    assert read(tmp_path, "conversation_parts").num_rows == result["parts_written"] > 0
    contacts = read(tmp_path, "contacts")
    assert len(set(contacts.column("contact_id").to_pylist())) == contacts.num_rows
    assert (
        0 < contacts.num_rows <= result["contacts_fetched"]
    )  # a merged id and its canonical: one row
    assert any(contacts.column("tag_names").to_pylist())  # resolved through the tag snapshot
    enriched = conversations.filter(ds.field("enrichment_status") == "enriched")
    assert set(enriched.column("contact_email").to_pylist()) <= set(
        contacts.column("email").to_pylist()
    )
    assert not list(tmp_path.rglob("*.tmp"))

    manifest = json.loads(
        (tmp_path / "_runs" / "20261001T000000Z_20261002T000000Z.json").read_text()
    )
    assert manifest["status"] == "completed" and manifest["schema_version"] == 1
    assert (
        manifest["metrics"]["conversations_listed"]
        == manifest["metrics"]["conversations_written"]
        + manifest["metrics"]["conversations_quarantined"]
    )
    assert (
        sum(
            manifest["metrics"][f"status_{s}"]
            for s in ("enriched", "no_contact", "contact_not_found", "failed")
        )
        == 600
    )
    assert {f["path"] for f in manifest["files"]} == set(result["files"])
    assert manifest["flow_run_id"]

    async def artifacts() -> set[str]:
        async with get_client() as client:
            found = await client.read_artifacts()
            return {a.key for a in found if a.key}

    assert {"enrichment-metrics-adhoc", "enrichment-summary-adhoc"} <= asyncio.run(artifacts())


def test_rerun_of_a_window_gives_the_same_files(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.enrich_conversations import enrich_conversations

    server = world(conversations=300, contacts=100)
    cfg = server.world.config
    first = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), batch_size=50
    )
    before = {p: read_rows(p) for p in sorted(tmp_path.rglob("*.parquet"))}
    second = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), batch_size=50
    )
    after = {p: read_rows(p) for p in sorted(tmp_path.rglob("*.parquet"))}
    assert first["files"] == second["files"]
    assert before == after  # same paths, same rows in the same order (lineage time aside)


def read_rows(path: Path) -> list[dict]:
    return pq.read_table(path).drop_columns(["extracted_at"]).to_pylist()


def test_lookups_that_keep_failing_fail_the_run_but_keep_the_rows(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.enrich_conversations import enrich_conversations

    server = world(
        conversations=200,
        contacts=80,
        faults=(
            FaultRule("contacts.search", "503", probability=1.0),
            FaultRule("contacts.get", "503", probability=1.0),
        ),
    )
    cfg = server.world.config
    state = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), return_state=True
    )
    assert state.is_failed()
    assert "could not be enriched" in state.message
    rows = read(tmp_path, "conversations")
    statuses = set(rows.column("enrichment_status").to_pylist())
    assert rows.num_rows == 200 and statuses == {"failed", "no_contact"}
    manifest = json.loads(next((tmp_path / "_runs").glob("*.json")).read_text())
    assert manifest["status"] == "incomplete"  # a backfill will run it again


def test_a_task_that_fails_transiently_is_retried_by_prefect(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.enrich_conversations import enrich_conversations

    # Two 503s exhaust the client's two attempts; Prefect's task retry then succeeds.
    server = world(
        conversations=50, contacts=20, faults=(FaultRule("conversations.search", "503", first_n=2),)
    )
    cfg = server.world.config
    state = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), return_state=True
    )
    assert state.is_completed(), state.message
    assert server.stats.snapshot()["requests"]["conversations.search"] == 3
