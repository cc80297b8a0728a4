"""The flow under a real Prefect API (prefect_test_harness) against the sandbox on loopback."""

import asyncio
import base64
import json
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.objects.registry import DIMENSIONS, TABLES
from intercom_enrichment.sandbox import FaultRule

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


def test_flow_writes_the_contract_and_publishes_artifacts(
    world, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from intercom_enrichment_flows import enrich_conversations as flow_module
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    settled: list[bool] = []  # the flow settles the startup heap (memory.py), each run asks
    monkeypatch.setattr(flow_module, "settle_startup_heap", lambda: settled.append(True))

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
        if table == "dimensions":
            assert pq.read_schema(path).remove_metadata() == DIMENSIONS[path.stem].schema, path
            continue
        if table not in TABLES:
            continue  # current/ and marts/ (tests/test_marts.py)
        assert pq.read_schema(path).remove_metadata() == TABLES[table].schema, path
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
    assert settled == [True]


def test_rerun_of_a_window_gives_the_same_files(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    server = world(conversations=300, contacts=100)
    cfg = server.world.config
    first = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), batch_size=50
    )
    before = {p: read_rows(p) for p in window_files(tmp_path)}
    second = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), batch_size=50
    )
    after = {p: read_rows(p) for p in window_files(tmp_path)}
    assert first["files"] == second["files"]
    assert before == after  # same paths, same rows in the same order (lineage time aside)


def window_files(root: Path) -> list[Path]:
    """Files of the window tables (current/ and marts/ are checked in tests/test_marts.py)."""
    return sorted(p for p in root.rglob("*.parquet") if p.relative_to(root).parts[0] in TABLES)


def read_rows(path: Path) -> list[dict]:
    return pq.read_table(path).drop_columns(["extracted_at"]).to_pylist()


def test_lookups_that_keep_failing_fail_the_run_but_keep_the_rows(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

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


def test_task_retries_transient_errors_only(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Also guards tasks.enrichment.retry_transient's use of Prefect's private ``_sync=True``:
    if that stops returning the exception, the transient case below is no longer retried."""
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

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

    fatal = world(
        conversations=50,
        contacts=20,
        faults=(FaultRule("conversations.search", "html", probability=1.0),),
    )
    state = enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), return_state=True
    )
    assert state.is_failed()
    assert fatal.stats.snapshot()["requests"]["conversations.search"] == 1  # not retried


def test_every_batch_takes_its_permits_from_the_global_limit(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client

    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    name = "intercom-test-budget"

    async def upsert() -> None:  # slots that barely decay: what the run took stays visible
        async with get_client() as client:
            await client.upsert_global_concurrency_limit_by_name(
                name, 100_000, slot_decay_per_second=0.01
            )

    async def taken() -> int:
        async with get_client() as client:
            return int((await client.read_global_concurrency_limit_by_name(name)).active_slots)

    server = world(conversations=400, contacts=150)
    cfg = server.world.config
    missing = enrich_conversations(
        start=cfg.window_start,
        end=cfg.window_end,
        output=str(tmp_path),
        global_limit=name,
        return_state=True,
    )
    assert missing.is_failed()  # strict: a limit that does not exist is no silent pass
    asyncio.run(upsert())
    before = asyncio.run(taken())
    result = enrich_conversations(
        start=cfg.window_start,
        end=cfg.window_end,
        output=str(tmp_path),
        batch_size=100,
        global_limit=name,
    )
    requests = server.stats.snapshot()["requests"]
    assert result["api_requests"] > 0
    # Every request got a permit; permits come in chunks of 10 per task, so at most 9 unused
    # per task (the listing and each batch); a few decayed while the run went on.
    permits = asyncio.run(taken()) - before
    assert permits >= result["api_requests"] - 2, (permits, requests)


def stored_result(path: Path) -> object:
    """What one file of Prefect's result storage holds: a result record (JSON), or the bare
    serialised value (base64 of a pickle) that a record's storage key points at."""
    from prefect.results import ResultRecord

    data = path.read_bytes()
    try:
        return ResultRecord.deserialize(data).result
    except ValueError:
        return pickle.loads(base64.b64decode(data))


def test_no_record_reaches_result_storage_even_when_persisting_by_default(
    world, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from prefect.settings import (
        PREFECT_LOCAL_STORAGE_PATH,
        PREFECT_RESULTS_PERSIST_BY_DEFAULT,
        temporary_settings,
    )

    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    server = world(conversations=120, contacts=40)
    cfg = server.world.config
    storage = tmp_path / "results"
    with temporary_settings(
        {PREFECT_RESULTS_PERSIST_BY_DEFAULT: True, PREFECT_LOCAL_STORAGE_PATH: str(storage)}
    ):
        enrich_conversations(
            start=cfg.window_start, end=cfg.window_end, output=str(tmp_path / "out")
        )
    emails = set(read(tmp_path / "out", "contacts").column("email").to_pylist()) - {None}
    ids = set(read(tmp_path / "out", "conversations").column("conversation_id").to_pylist())
    assert emails and ids
    for path in (p for p in storage.rglob("*") if p.is_file()):
        text = repr(stored_result(path))
        assert not any(e in text for e in emails), path  # a contact's email
        assert not any(i in text for i in ids), path  # a listed conversation


def _fake_batches(monkeypatch: pytest.MonkeyPatch, behave) -> Any:  # type: ignore[no-untyped-def]
    """``TaskExecutor`` with two batches in flight whose ``enrich_batch`` is ``behave(index)``
    (a coroutine function), and what it needs to run batches 0…4 in a flow."""
    from intercom_enrichment.api.settings import IntercomSettings
    from intercom_enrichment.metrics import EnrichmentMetrics
    from intercom_enrichment.output.writer import BatchRecords
    from intercom_enrichment_tasks import enrichment

    async def enrich_batch(client, batch, **_: object):  # type: ignore[no-untyped-def]
        await behave(batch.index)
        return BatchRecords(rows={"n": [{"index": batch.index}]}), EnrichmentMetrics()

    monkeypatch.setattr(enrichment, "enrich_batch", enrich_batch)
    settings = IntercomSettings.from_env({"INTERCOM_ACCESS_TOKEN": "t"})
    return enrichment.TaskExecutor(settings, None, batches_in_flight=2)


def _run_five(executor) -> Iterator[int]:  # type: ignore[no-untyped-def]
    from intercom_enrichment.extract.batching import Batch
    from intercom_enrichment.objects.common import Lineage
    from intercom_enrichment.windows import Window, parse_instant

    window = Window(parse_instant("2026-10-01T00:00:00Z"), parse_instant("2026-10-02T00:00:00Z"))
    batches = [Batch(i, [], []) for i in range(5)]
    for records, _ in executor.enrich(batches, Lineage(window, window.start), EnrichOptions()):
        yield records.rows["n"][0]["index"]


def test_batches_slide_through_a_bounded_window_and_come_back_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next batch starts as soon as the oldest has been handed on, not once a whole group
    has: batch 1 waits until batch 2 has started (groups of two would never start it). Never
    more than two in flight."""
    from prefect import flow

    lock = threading.Lock()
    running: set[int] = set()
    most = [0]
    batch_2_started = threading.Event()
    saw: list[bool] = []  # batch 1 saw batch 2 start while it ran

    async def behave(index: int) -> None:
        with lock:
            running.add(index)
            most[0] = max(most[0], len(running))
        if index == 2:
            batch_2_started.set()
        if index == 1:  # polled, bounded: on groups of two this gives up after 10 s
            for _ in range(1000):
                if batch_2_started.is_set():
                    saw.append(True)
                    break
                await asyncio.sleep(0.01)
        with lock:
            running.discard(index)

    executor = _fake_batches(monkeypatch, behave)

    @flow
    def slide() -> list[int]:
        return list(_run_five(executor))

    assert slide() == [0, 1, 2, 3, 4]
    assert most[0] <= 2
    assert saw == [True] and not running


def test_the_next_batch_is_in_flight_while_the_oldest_is_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The oldest batch's answer is handed on only once the next batch is submitted, so two
    stay in flight while it is written: batch 2 starts while the consumer still holds batch 0
    (submitted after the hand-on, it would wait for the consumer; bounded at 10 s)."""
    from prefect import flow

    started = {index: threading.Event() for index in range(5)}

    async def behave(index: int) -> None:
        started[index].set()

    executor = _fake_batches(monkeypatch, behave)

    @flow
    def consume() -> list[int | bool]:
        seen: list[int | bool] = []
        for index in _run_five(executor):
            seen.append(index)
            if index == 0:  # the generator is suspended here, as while a batch is written
                seen.append(started[2].wait(timeout=10))
        return seen

    assert consume() == [0, True, 1, 2, 3, 4]


def test_a_failed_batch_lets_the_batches_in_flight_end_before_the_window_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """They read the listing's spill, which the pipeline removes once the window fails."""
    from prefect import flow

    ended: dict[int, float] = {}

    async def behave(index: int) -> None:
        if index == 1:
            raise RuntimeError("batch 1 failed")
        await asyncio.sleep(0.5)
        ended[index] = time.monotonic()

    executor = _fake_batches(monkeypatch, behave)

    @flow
    def fail() -> float:
        with pytest.raises(RuntimeError, match="batch 1 failed"):
            list(_run_five(executor))
        return time.monotonic()

    gave_up = fail()
    assert 2 in ended and ended[2] <= gave_up  # batch 2 was in flight when batch 1 failed


def test_the_batches_of_a_run_share_one_event_loop(
    world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Each enrich-batch task runs in a thread of the task runner, its coroutine on the
    process's shared loop: one loop for every batch, not one per task thread, which would take
    turns at the GIL (shared_loop.py)."""
    import intercom_enrichment_tasks.enrichment as enrichment
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    loops: list[int] = []
    task_threads: set[int] = set()
    original = enrichment.enrich_batch
    original_run = enrichment.run_on_shared_loop

    async def recorded(*args: Any, **kwargs: Any) -> Any:
        loops.append(id(asyncio.get_running_loop()))
        return await original(*args, **kwargs)

    def run(coroutine: Any) -> Any:
        task_threads.add(threading.get_ident())
        return original_run(coroutine)

    monkeypatch.setattr(enrichment, "enrich_batch", recorded)
    monkeypatch.setattr(enrichment, "run_on_shared_loop", run)
    server = world(conversations=300, contacts=120)
    cfg = server.world.config
    enrich_conversations(
        start=cfg.window_start, end=cfg.window_end, output=str(tmp_path), batch_size=50
    )
    assert len(loops) >= 4  # batches
    assert len(set(loops)) == 1, f"{len(set(loops))} loops for {len(loops)} batches"
    assert len(task_threads) >= 2  # the task runner's threads did hand them over
