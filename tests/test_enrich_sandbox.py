"""The plain pipeline (no Prefect) against the sandbox server on loopback, checked against the
sandbox's own ground truth: every conversation once, with the right contact details."""

import tempfile
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import AsyncioExecutor, WindowJob, run_pipeline
from intercom_enrichment.sandbox import SandboxServer
from intercom_enrichment.windows import Window
from tests.fault_cases import read_tables


def enrich_all(
    server: SandboxServer, window: Window, options: EnrichOptions, batch_size: int = 200
):  # type: ignore[no-untyped-def]
    """The production pipeline on a fresh budget; the rows as written, read back."""
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url, max_attempts=3)
    job_tables = ["conversations", "contacts", "conversation_parts"]
    with tempfile.TemporaryDirectory(prefix="enrich-") as root:
        job = WindowJob(window, root, batch_size, options)
        with AsyncioExecutor(settings, per_page=50, budget=RateBudget()) as executor:
            result = run_pipeline(settings, job, executor)
        tables = read_tables(Path(root), job_tables)
    return (
        tables["conversations"],
        tables["contacts"],
        tables["conversation_parts"],
        result.metrics,
    )


def test_every_conversation_once_with_the_right_contact(sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(
        conversations=900,
        contacts=200,
        deleted_contact_share=0.1,
        merged_contact_share=0.05,
        unsearchable_contact_share=0.05,
        no_contact_share=0.1,
        multi_contact_share=0.2,
    )
    world, cfg = server.world, server.world.config
    window = Window(cfg.window_start + timedelta(hours=3), cfg.window_start + timedelta(hours=20))
    rows, contacts, _, metrics = enrich_all(server, window, EnrichOptions())

    truth = world.index_range(int(window.start.timestamp()), int(window.end.timestamp()))
    assert sorted(r["conversation_id"] for r in rows) == sorted(
        world.conversation_id(i) for i in truth
    )
    by_id = {r["conversation_id"]: r for r in rows}
    seen_statuses = set()
    for i in truth:
        row = by_id[world.conversation_id(i)]
        people = world.conversation_contacts(i)
        assert row["contact_ids"] == [world.contact_id(j) for j in people]  # complete, in API order
        if not people:
            assert row["enrichment_status"] == "no_contact" and row["contact_email"] is None
            seen_statuses.add("no_contact")
            continue
        primary = people[0]
        status = world.contact_status(primary)
        assert row["contact_id"] == world.contact_id(primary)  # primary = first
        if status == "deleted":
            assert row["enrichment_status"] == "contact_not_found" and row["contact_email"] is None
        else:
            source = world.canonical_contact(primary) if status == "merged" else primary
            assert row["enrichment_status"] == "enriched"
            assert row["contact_email"] == world.contact(source)["email"]
            assert row["contact_name"] == world.contact(source)["name"]
        seen_statuses.add(status)
    assert seen_statuses >= {"no_contact", "active", "deleted", "merged", "unsearchable"}
    assert metrics.invariant_violations() == []
    assert len({c["contact_id"] for c in contacts}) == len(contacts)


def test_each_contact_fetched_once_in_bulk(sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=3000, contacts=700)
    cfg = server.world.config
    window = Window(cfg.window_start, cfg.window_end)
    rows, _, _, metrics = enrich_all(server, window, EnrichOptions(), batch_size=1000)
    requests = server.stats.snapshot()["requests"]
    distinct = metrics.contacts_unique
    fallbacks = requests.get("contacts.get", 0)
    assert (
        requests["contacts.search"] <= -(-distinct // 150) + 3
    )  # ⌈distinct ÷ 150⌉ (+ partial chunks)
    assert fallbacks < distinct * 0.1  # only ids the search did not return
    assert metrics.conversations_written == len(rows) == 3000


def test_parts_are_complete_and_truncation_is_flagged(sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=150, contacts=60, truncated_parts_share=0.05)
    cfg = server.world.config
    rows, _, parts, metrics = enrich_all(
        server, Window(cfg.window_start, cfg.window_end), EnrichOptions(include_parts=True)
    )
    assert sum(r["parts_truncated"] for r in rows) >= 1
    for row in rows:
        i = server.world.conversation_index(row["conversation_id"])
        assert row["parts_total_count"] == server.world.part_count(i)
        assert row["parts_truncated"] == (server.world.part_count(i) > 500)
    assert (
        len(parts)
        == metrics.count("parts_written")
        == sum(min(r["parts_total_count"], 500) for r in rows)
    )
    assert len({(p["conversation_id"], p["part_id"]) for p in parts}) == len(parts)


def test_segments_once_per_contact_on_both_tables(sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=300, contacts=60)
    cfg = server.world.config
    window = Window(cfg.window_start, cfg.window_end)
    rows, contacts, _, metrics = enrich_all(server, window, EnrichOptions(include_segments=True))
    world = server.world
    requests = server.stats.snapshot()["requests"]
    assert requests["contacts.segments"] == len({c["contact_id"] for c in contacts})
    for contact in contacts:
        j = world.contact_index(contact["contact_id"])
        assert contact["segment_names"] == sorted(s["name"] for s in world.segments(j))
    enriched = [r for r in rows if r["enrichment_status"] == "enriched"]
    by_id = {c["contact_id"]: c["segment_names"] for c in contacts}
    assert enriched and all(r["contact_segment_names"] is not None for r in enriched)
    assert any(r["contact_segment_names"] == by_id.get(r["contact_id"]) for r in enriched)
    plain, _, _, _ = enrich_all(server, window, EnrichOptions())
    assert all(r["contact_segment_names"] is None for r in plain)  # null unless enabled
    assert metrics.invariant_violations() == []


def test_segments_that_keep_failing_make_the_window_incomplete(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment.extract.pipeline import run_window
    from intercom_enrichment.output.writer import read_manifest
    from intercom_enrichment.sandbox import FaultRule

    server = sandbox(
        conversations=60,
        contacts=20,
        faults=(FaultRule("contacts.segments", "503", probability=1.0),),
    )
    cfg = server.world.config
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url, max_attempts=1)
    job = WindowJob(
        Window(cfg.window_start, cfg.window_end),
        str(tmp_path),
        options=EnrichOptions(include_segments=True),
    )
    result = run_window(settings, job)
    assert result.metrics.segments_fetch_failed > 0 and result.incomplete
    from intercom_enrichment.output.storage import Storage

    manifest = read_manifest(Storage(str(tmp_path)), job.window)
    assert manifest is not None and manifest["status"] == "incomplete"


def test_a_merged_contact_and_its_canonical_are_one_row_per_window(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.dataset as ds

    from intercom_enrichment.extract.pipeline import run_window

    server = sandbox(conversations=2000, contacts=400, merged_contact_share=0.3)
    cfg = server.world.config
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    job = WindowJob(Window(cfg.window_start, cfg.window_end), str(tmp_path), batch_size=200)
    run_window(settings, job)
    ids = ds.dataset(tmp_path / "contacts", format="parquet", partitioning="hive").to_table()
    contact_ids = ids.column("contact_id").to_pylist()
    assert len(contact_ids) == len(set(contact_ids)) > 0


def test_a_contact_s_columns_are_made_once_for_all_its_conversations(sandbox, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A busy contact has many conversations: its columns (custom attributes encoded to JSON
    among them) are made once a batch, not once a conversation; every row still carries them."""
    from intercom_enrichment.extract import enrich

    server = sandbox(conversations=400, contacts=40, no_contact_share=0.1)
    cfg = server.world.config
    calls: list[object] = []
    made = enrich.contact_details

    def counted(contact, *args, **kw):  # type: ignore[no-untyped-def]
        calls.append(contact.id if contact is not None else None)
        return made(contact, *args, **kw)

    monkeypatch.setattr(enrich, "contact_details", counted)
    rows, contacts, _, metrics = enrich_all(
        server, Window(cfg.window_start, cfg.window_end), EnrichOptions(), batch_size=1000
    )
    assert len(rows) == 400 and metrics.count("conversations_written") == 400
    conversation_calls = len(calls) - len(contacts)  # contact_row makes its own
    primaries = {(r["contact_id"] if r["contact_id"] else None) for r in rows}
    assert conversation_calls <= len(primaries) + 1  # once a contact (and once for none)
    by_contact = {c["contact_id"]: c for c in contacts}
    for row in rows:
        if row["contact_id"] in by_contact:
            assert row["contact_email"] == by_contact[row["contact_id"]]["email"]
