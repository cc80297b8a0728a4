"""Tickets through the one pipeline: every ticket of a day exactly once, with its contact, type,
state and parts, from the sandbox and from an independent server (``fake_intercom``); a token
without the tickets scope is reported, keeps what was written and fails nothing; the version
differences (assignee ids) give the same rows."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset as ds
import pytest
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.errors import IntercomError
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import (
    AsyncioExecutor,
    WindowJob,
    list_measured,
    run_pipeline,
)
from intercom_enrichment.objects.conversations import CONVERSATION
from intercom_enrichment.objects.tickets import TICKET
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import read_manifest
from intercom_enrichment.sandbox import FaultRule
from intercom_enrichment.windows import Window

from .fake_intercom import FakeIntercom, contact, conversation, ticket, ticket_part, ticket_type

WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def table(root: Path, name: str) -> list[dict[str, Any]]:
    folder = root / name
    if not folder.exists():
        return []
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()


def run(settings: IntercomSettings, out: Path, transport: Any = None, **job: Any) -> Any:
    executor = AsyncioExecutor(
        settings, budget=RateBudget(), transport=(lambda: transport) if transport else None
    )
    with executor:
        return run_pipeline(
            settings,
            WindowJob(WINDOW, str(out), 50, EnrichOptions(include_parts=True), **job),
            executor,
        )


def sandbox_settings(server: Any, version: str = "2.16") -> IntercomSettings:
    return IntercomSettings(token=SecretStr(server.token), base_url=server.url, api_version=version)


def test_a_day_of_tickets_with_parts_from_the_sandbox(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=400, contacts=120, tickets=150, parts_max=12)
    tickets = server.world.tickets
    cfg = server.world.config
    window = Window(cfg.window_start, cfg.window_end)
    assert window == WINDOW
    result = run(sandbox_settings(server), tmp_path)
    assert result.incomplete is None
    rows = table(tmp_path, "tickets")
    truth = {tickets.ticket_id(t): tickets.ticket(t, "2.16") for t in range(tickets.count)}
    assert sorted(r["ticket_id"] for r in rows) == sorted(truth)  # every ticket exactly once
    for row in rows:
        raw = truth[row["ticket_id"]]
        assert row["ticket_number"] == raw["ticket_id"] != row["ticket_id"]
        assert row["ticket_type_name"] == raw["ticket_type"]["name"]
        assert row["ticket_state_name"] == raw["ticket_state"]["internal_label"]
        assert row["ticket_state_category"] == raw["ticket_state"]["category"]
        assert row["title"] == raw["ticket_attributes"]["_default_title_"]
        assert row["parts_total_count"] == raw["ticket_parts"]["total_count"]
        assert row["parts_truncated"] is False
        contacts = [c["id"] for c in raw["contacts"]["contacts"]]
        assert row["contact_ids"] == contacts
        assert row["enrichment_status"] in ("enriched", "no_contact", "contact_not_found")
        if row["enrichment_status"] == "enriched":
            assert row["contact_email"]
    parts = table(tmp_path, "ticket_parts")
    keys = {(p["ticket_id"], p["part_id"]) for p in parts}
    assert (
        len(keys)
        == len(parts)
        == sum(len(t["ticket_parts"]["ticket_parts"]) for t in truth.values())
    )
    resolved = [r for r in rows if r["first_resolved_at"] is not None]
    assert resolved and all(r["first_resolved_at"] >= r["created_at"] for r in resolved)
    # contacts of tickets are in the contacts table, once
    contact_rows = table(tmp_path, "contacts")
    ids = [c["contact_id"] for c in contact_rows]
    assert len(ids) == len(set(ids))
    enriched = {r["contact_id"] for r in rows if r["enrichment_status"] == "enriched"}
    assert enriched <= set(ids)
    # a contact of conversations and of tickets is looked up once, by one batch
    everyone = {
        c
        for t in ("conversations", "tickets")
        for r in table(tmp_path, t)
        for c in r["contact_ids"]
    }
    assert result.metrics.contacts_unique == len(everyone)
    m = result.metrics
    assert m.count("tickets_listed") == m.count("tickets_written") == len(truth)
    assert m.count("ticket_parts_written") == len(parts)
    assert m.invariant_violations() == []


def test_tickets_from_an_independent_server(tmp_path: Path) -> None:
    """``fake_intercom``: ticket search in descending order, strict bounds, its own cursors,
    50 per page, string assignee ids in 2.14; every ticket once, with its parts."""
    start = int(WINDOW.start.timestamp())
    people = [f"{i:024x}" for i in range(1, 8)]
    tickets = [
        ticket(
            900 + i,
            start + 300 * i + 1,
            [people[i % len(people)]],
            state="resolved" if i % 3 == 0 else "in_progress",
            title=f"Issue {i}",
            admin_assignee_id=12 if i % 2 else 0,
            type_id="7",
            parts=[
                ticket_part(10_000 * i + k, start + 300 * i - 50 + k, body=f"part {k}")
                for k in range(i % 4)
            ]
            + (
                [ticket_part(10_000 * i + 9, start + 300 * i, ticket_state="resolved",
                             previous_ticket_state="in_progress")]
                if i % 3 == 0
                else []
            ),
        )
        for i in range(120)
    ]  # fmt: skip
    fake = FakeIntercom(
        [conversation(1, start + 10, [people[0]])],
        contacts={p: contact(p) for p in people},
        tickets=tickets,
        ticket_types=[ticket_type("7", "Refund")],
    )
    settings = IntercomSettings(
        token=SecretStr(fake.token), base_url="http://fake.test", api_version="2.14"
    )
    result = run(settings, tmp_path, fake.transport())
    assert result.incomplete is None
    rows = {r["ticket_id"]: r for r in table(tmp_path, "tickets")}
    assert sorted(rows) == sorted(t["id"] for t in tickets)
    assert rows["901"]["admin_assignee_id"] == "12" and rows["900"]["admin_assignee_id"] is None
    assert rows["903"]["ticket_state_category"] == "resolved"
    assert rows["903"]["first_resolved_at"] == datetime.fromtimestamp(start + 900, UTC)
    assert rows["902"]["ticket_type_name"] == "Type 7"
    assert all(r["enrichment_status"] == "enriched" for r in rows.values())
    parts = table(tmp_path, "ticket_parts")
    expected = sum(len(t["ticket_parts"]["ticket_parts"]) for t in tickets)
    assert len(parts) == len({(p["ticket_id"], p["part_id"]) for p in parts}) == expected
    kinds = table(tmp_path / "dimensions", "ticket_types.parquet")
    assert [(k["ticket_type_id"], k["name"]) for k in kinds] == [("7", "Refund")]
    contacts = fake.requests.count("POST /contacts/search")
    assert contacts == 1  # one bulk search for the contacts of conversations and tickets


def test_a_token_without_the_tickets_scope_completes_and_keeps_the_tickets(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """403 to the ticket search and lists: the run completes, says tickets are unavailable
    (metrics, manifest), keeps the window's earlier ticket files (listed again in its
    manifest) and the earlier ticket type snapshot."""
    world = {"conversations": 120, "contacts": 40, "tickets": 40}
    first = run(sandbox_settings(sandbox(**world)), tmp_path)
    before = read_manifest(Storage(str(tmp_path)), WINDOW)
    assert first.incomplete is None and before

    def ticket_files(manifest: dict[str, Any]) -> list[str]:
        return sorted(f["path"] for f in manifest["files"] if f["table"].startswith("ticket"))

    assert ticket_files(before)
    kinds = (tmp_path / "dimensions" / "ticket_types.parquet").read_bytes()
    forbidden = ("tickets.search", "ticket_types.list", "ticket_states.list")
    blocked = sandbox(
        **world, faults=tuple(FaultRule(e, "403", probability=1.0) for e in forbidden)
    )
    second = run(sandbox_settings(blocked), tmp_path)
    assert second.incomplete is None
    assert second.metrics.unavailable == {"tickets: HTTP 403 forbidden": 1}
    assert (tmp_path / "dimensions" / "ticket_types.parquet").read_bytes() == kinds
    after = read_manifest(Storage(str(tmp_path)), WINDOW)
    assert after is not None and after["status"] == "completed"
    assert ticket_files(after) == ticket_files(before)
    assert all((tmp_path / p).exists() for p in ticket_files(after))
    assert after["metrics"]["unavailable"] == {"tickets: HTTP 403 forbidden": 1}
    assert any(
        "ticket_types: not read (HTTP 403)" in r for r in after["metrics"]["failure_reasons"]
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "forbidden"), (404, "not_found"), (400, "intercom_version_invalid")],
)
def test_an_endpoint_not_offered_makes_tickets_unavailable_not_conversations(
    status: int, code: str
) -> None:
    """``errors.UNAVAILABLE``: optional objects (tickets) are reported unavailable; the same
    answer to the conversation search fails the run."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "type": "error.list",
            "request_id": "r",
            "errors": [{"code": code, "message": code}],
        }
        return httpx.Response(status, json=body)

    settings = IntercomSettings(token=SecretStr("t"), base_url="http://unavailable.test")

    def listing(obj: Any) -> Any:
        client = IntercomClient(
            settings, budget=RateBudget(), transport=httpx.MockTransport(handler)
        )
        return asyncio.run(list_measured(client, obj, WINDOW))

    tickets, metrics = listing(TICKET)
    assert tickets.unavailable == f"HTTP {status} {code}" and len(tickets.entries) == 0
    assert metrics.unavailable == {f"tickets: HTTP {status} {code}": 1}
    with pytest.raises(IntercomError):
        listing(CONVERSATION)


def test_assignee_ids_read_the_same_in_2_14_and_2_16(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=80, contacts=30, tickets=60)
    rows = {}
    for version in ("2.14", "2.16"):
        run(sandbox_settings(server, version), tmp_path / version)
        rows[version] = {
            r["ticket_id"]: (r["admin_assignee_id"], r["team_assignee_id"], r["ticket_state_name"])
            for r in table(tmp_path / version, "tickets")
        }
    assert rows["2.14"] == rows["2.16"]
    assert any(a is None for a, _, _ in rows["2.16"].values())  # unassigned: 0 / "0" → null
    assert any(a is not None for a, _, _ in rows["2.16"].values())
