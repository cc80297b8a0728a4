"""The documented API behaviours of issue 10 end to end against the sandbox (a real server):
merges by version, tag names, dimension tables, an IN limit of 15, the cursor error, 408s."""

import asyncio
import json
import math
from typing import Any

import pyarrow.parquet as pq
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.contact_search import ChunkSizer
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.dimensions import snapshot_dimensions
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.listing import list_window
from intercom_enrichment.extract.lookup import lookup_contacts
from intercom_enrichment.extract.pipeline import WindowJob, run_window
from intercom_enrichment.objects.conversations import CONVERSATION
from intercom_enrichment.output.liveness import scope_tag
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.sandbox import FaultRule
from intercom_enrichment.sandbox.attributes import DEFINITIONS
from intercom_enrichment.sandbox.ticket_records import TICKET_STATES, TICKET_TYPES
from intercom_enrichment.sandbox.vocab import (
    ADMINS,
    CONTACT_TAGS,
    CONVERSATION_TAGS,
    SEGMENTS,
    TEAM_IDS,
)
from intercom_enrichment.windows import Window

TAG_NAMES = dict(CONVERSATION_TAGS + CONTACT_TAGS)


def _settings(server: Any, **kw: Any) -> IntercomSettings:
    return IntercomSettings(token=SecretStr(server.token), base_url=server.url, **kw)


def _window(server: Any) -> Window:
    return Window(server.config.window_start, server.config.window_end)


async def _with(server: Any, fn: Any, **kw: Any) -> Any:
    async with IntercomClient(_settings(server, **kw)) as client:
        return await fn(client), client


def _all_ids(server: Any) -> list[str]:
    return [server.world.contact_id(j) for j in range(server.world.contact_count)]


def test_merged_contacts_followed_on_the_default_version_not_on_2_14(sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=10, contacts=300, merged_contact_share=0.2)
    world = server.world
    merged = [world.contact_id(j) for j in range(300) if world.contact_status(j) == "merged"]
    assert len(merged) > 20
    new, _ = asyncio.run(_with(server, lambda c: lookup_contacts(c, merged, sizer=ChunkSizer())))
    for cid in merged:
        canonical = world.canonical_contact(world.contact_index(cid) or 0)
        assert new.found[cid].id == world.contact_id(canonical or 0)
    old, _ = asyncio.run(
        _with(server, lambda c: lookup_contacts(c, merged, sizer=ChunkSizer()), api_version="2.14")
    )
    assert not old.found and old.not_found == set(merged)  # 404, like a deleted contact


def test_contact_requests_stay_near_distinct_over_an_in_limit_of_15(sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=10, contacts=900, contact_search_in_limit=15)
    ids = _all_ids(server)
    result, _ = asyncio.run(_with(server, lambda c: lookup_contacts(c, ids, sizer=ChunkSizer())))
    requests = server.stats.snapshot()["requests"]
    world = server.world
    fallbacks = sum(world.contact_status(j) != "active" for j in range(900))
    merged = sum(world.contact_status(j) == "merged" for j in range(900))
    assert requests["contacts.search"] <= 1.25 * math.ceil(len(ids) / 15)
    assert requests["contacts.get"] == fallbacks + merged  # one GET per unsearchable, one per Link
    assert result.search_chunk_size == 15 and result.search_requests_refused >= 4
    assert len(result.found) + len(result.not_found) == len(ids)


def test_a_rejected_cursor_mid_listing_lists_every_conversation_once(sandbox) -> None:  # type: ignore[no-untyped-def]
    rule = FaultRule("conversations.search", "invalid_cursor", first_n=2)
    server = sandbox(conversations=3000, contacts=50, faults=(rule,))
    listing, _ = asyncio.run(_with(server, lambda c: list_window(c, CONVERSATION, _window(server))))
    ids = [c.id for c in listing.records]
    assert sorted(ids) == sorted(server.world.conversation_id(i) for i in range(3000))
    assert len(set(ids)) == len(ids) == 3000
    assert listing.cursor_restarts == 2
    assert server.stats.snapshot()["faults_injected"] == {"invalid_cursor": 2}


def test_408_and_409_are_retried_against_the_sandbox(sandbox) -> None:  # type: ignore[no-untyped-def]
    faults = (FaultRule("contacts.get", "408", first_n=1), FaultRule("me", "409", first_n=1))
    server = sandbox(conversations=1, contacts=5, deleted_contact_share=0, faults=faults)
    cid = server.world.contact_id(0)

    async def both(client: IntercomClient) -> Any:
        return await client.get_contact(cid), await client.me()

    (body, me), client = asyncio.run(_with(server, both))
    assert body["id"] == cid and me["type"] == "admin" and client.stats.retries == 2


def test_dimension_tables_are_complete_and_replaced(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=1, contacts=1)
    storage = Storage(str(tmp_path))
    pii = PiiPolicy("hash", SecretStr("k"))
    snap, _ = asyncio.run(_with(server, lambda c: snapshot_dimensions(c, storage, pii)))
    assert snap.tag_names == TAG_NAMES
    admins = pq.read_table(tmp_path / "dimensions/admins.parquet").to_pylist()
    assert sorted(a["admin_id"] for a in admins) == sorted(a[0] for a in ADMINS)
    assert {a["name"] for a in admins} == {pii.value(a[1]) for a in ADMINS}  # names hashed
    assert all(a["email"] and "@" not in a["email"] for a in admins)  # emails hashed
    assert all(a["team_ids"] for a in admins)
    teams = pq.read_table(tmp_path / "dimensions/teams.parquet").to_pylist()
    assert sorted(t["team_id"] for t in teams) == sorted(str(t) for t in TEAM_IDS)
    members = {(t["team_id"], m) for t in teams for m in t["admin_ids"]}
    assert members == {(t, a["admin_id"]) for a in admins for t in a["team_ids"]}
    tags = pq.read_table(tmp_path / "dimensions/tags.parquet").to_pylist()
    assert {t["tag_id"]: t["name"] for t in tags} == TAG_NAMES
    segments = pq.read_table(tmp_path / "dimensions/segments.parquet").to_pylist()
    assert {(s["segment_id"], s["name"]) for s in segments} == set(SEGMENTS)
    assert snap.rows == {
        "admins": 12,
        "teams": 5,
        "tags": len(TAG_NAMES),
        "segments": 6,
        "ticket_types": len(TICKET_TYPES),
        "ticket_states": len(TICKET_STATES),
        # the definitions not archived (GET …?include_archived=false, the default)
        "conversation_attributes": sum(not d[4] for d in DEFINITIONS["conversation"]),
        "contact_attributes": sum(not d[4] for d in DEFINITIONS["contact"]),
        "company_attributes": sum(not d[4] for d in DEFINITIONS["company"]),
        "deleted_conversations": 0,  # the sandbox deletes none unless told
    }
    contact_attrs = pq.read_table(tmp_path / "dimensions/contact_attributes.parquet").to_pylist()
    plan = next(a for a in contact_attrs if a["full_name"] == "custom_attributes.plan")
    assert (plan["data_type"], plan["custom"], plan["options"]) == (
        "string",
        True,
        ["free", "pro", "enterprise"],
    )
    conversation_attrs = pq.read_table(
        tmp_path / "dimensions/conversation_attributes.parquet"
    ).to_pylist()
    issue = next(a for a in conversation_attrs if a["name"] == "issue_type")
    assert issue["data_type"] == "list" and issue["options"] == ["billing", "bug", "question"]
    states = pq.read_table(tmp_path / "dimensions/ticket_states.parquet").to_pylist()
    assert {(s["ticket_state_id"], s["category"], s["internal_label"]) for s in states} == {
        s[:3] for s in TICKET_STATES
    }
    kinds = pq.read_table(tmp_path / "dimensions/ticket_types.parquet").to_pylist()
    assert {(k["ticket_type_id"], k["name"]) for k in kinds} == {k[:2] for k in TICKET_TYPES}
    # A second run replaces the files whole; nothing staged is left behind.
    asyncio.run(_with(server, lambda c: snapshot_dimensions(c, storage, PiiPolicy())))
    kept = pq.read_table(tmp_path / "dimensions/admins.parquet").to_pylist()
    assert {a[2] for a in ADMINS} == {a["email"] for a in kept}  # under keep: as they are
    assert {a[1] for a in ADMINS} == {a["name"] for a in kept}
    assert not list((tmp_path / "dimensions").glob(".*"))


def test_contact_tag_names_and_full_lists_through_a_window_run(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=1500, contacts=300, many_tags_share=0.2)
    world = server.world
    job = WindowJob(_window(server), str(tmp_path), 500, EnrichOptions())
    metrics = run_window(_settings(server), job).metrics
    rows = pq.read_table(tmp_path / "contacts").to_pylist()
    assert len(rows) > 100
    long_lists = 0
    for row in rows:
        full = world.contact(world.contact_index(row["contact_id"]) or 0, full_lists=True)
        tag_ids = [t["id"] for t in full["tags"]["data"]]
        long_lists += len(tag_ids) > 10
        assert row["tag_ids"] == tag_ids
        assert row["tag_names"] == [TAG_NAMES[t] for t in tag_ids]
        assert row["company_ids"] == [c["id"] for c in full["companies"]["data"]]
        assert row["tags_truncated"] is False and row["companies_truncated"] is False
    assert long_lists > 5  # the references stopped at 10; the rest came from /contacts/{id}/tags
    assert metrics.dimension_rows["tags"] == len(TAG_NAMES)
    assert (tmp_path / "dimensions/admins.parquet").exists()
    requests = server.stats.snapshot()["requests"]
    assert all(requests[k] == 1 for k in ("admins.list", "teams.list", "tags.list"))


def test_truncated_parts_are_flagged_by_either_count(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=400, contacts=50, truncated_parts_share=0.05)
    job = WindowJob(_window(server), str(tmp_path), 500, EnrichOptions(include_parts=True))
    metrics = run_window(_settings(server), job).metrics
    rows = pq.read_table(tmp_path / "conversations").to_pylist()
    world = server.world
    expected = {
        r["conversation_id"]: world.part_count(world.conversation_index(r["conversation_id"]) or 0)
        >= 500
        for r in rows
    }
    assert {r["conversation_id"]: r["parts_truncated"] for r in rows} == expected
    assert metrics.count("parts_incomplete") == sum(expected.values()) > 5


def test_the_sandbox_serves_references_cut_at_10_and_an_in_limit(sandbox) -> None:  # type: ignore[no-untyped-def]
    import httpx

    server = sandbox(conversations=1, contacts=200, many_tags_share=0.3, contact_search_in_limit=3)
    world = server.world
    auth = {"Authorization": f"Bearer {server.token}", "Intercom-Version": "2.16"}
    with httpx.Client(base_url=server.url, headers=auth) as http:
        cut = 0
        for j in range(60):
            if world.contact_status(j) != "active":
                continue
            cid = world.contact_id(j)
            body = http.get(f"/contacts/{cid}").json()
            for key in ("tags", "companies"):
                listed = body[key]
                assert len(listed["data"]) <= 10
                assert listed["has_more"] == (listed["total_count"] > 10)
                assert all(set(ref) == {"type", "id", "url"} for ref in listed["data"])  # no name
            if body["tags"]["has_more"]:
                cut += 1
                full = http.get(f"/contacts/{cid}/tags").json()["data"]
                assert len(full) == body["tags"]["total_count"] and all(t["name"] for t in full)
                assert [t["id"] for t in full[:10]] == [t["id"] for t in body["tags"]["data"]]
        assert cut > 3
        ids = [world.contact_id(j) for j in range(4)]
        query = {"query": {"field": "id", "operator": "IN", "value": ids}}
        refused = http.post("/contacts/search", json=query)
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "parameter_invalid"
        query["query"]["value"] = ids[:3]
        assert http.post("/contacts/search", json=query).status_code == 200


def test_a_killed_run_s_staged_snapshot_is_cleared_a_live_one_kept(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    folder = tmp_path / "dimensions"
    folder.mkdir()
    # Staging names: Storage.staging_path, tagged with storage.default_tag (p<pid>s<scope>).
    scope = scope_tag()
    dead = folder / f".tags.parquet.p{int(gone.stdout)}s{scope}.abc.tmp"
    live = folder / f".tags.parquet.p{os.getpid()}s{scope}.def.tmp"  # this process's
    # a gone pid, but seen from another pid namespace (a container on a shared folder)
    elsewhere = folder / f".tags.parquet.p{int(gone.stdout)}s0badf00d.ghi.tmp"
    for path in (dead, live, elsewhere):
        path.write_text("partial")
    server = sandbox(conversations=1, contacts=1)
    asyncio.run(
        _with(server, lambda c: snapshot_dimensions(c, Storage(str(tmp_path)), PiiPolicy()))
    )
    assert not dead.exists() and live.exists() and elsewhere.exists()


def test_conversation_attributes_before_2_16_keep_their_snapshot(sandbox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``GET /conversations/attributes`` exists from 2.16: on 2.14 it answers 400
    intercom_version_invalid, the earlier snapshot stays and the run says so."""
    server = sandbox(conversations=1, contacts=1)
    storage = Storage(str(tmp_path))

    def snapshot(version: str) -> Any:
        settings = IntercomSettings(
            token=SecretStr(server.token), base_url=server.url, api_version=version
        )

        async def go() -> Any:
            async with IntercomClient(settings, budget=RateBudget()) as client:
                return await snapshot_dimensions(client, storage, PiiPolicy())

        return asyncio.run(go())

    first = snapshot("2.16")
    path = tmp_path / "dimensions/conversation_attributes.parquet"
    before = path.read_bytes()
    assert first.rows["conversation_attributes"] > 0
    old = snapshot("2.14")
    assert "conversation_attributes" not in old.rows
    assert old.unavailable["conversation_attributes"] == "HTTP 400"
    assert path.read_bytes() == before
    assert old.rows["contact_attributes"] == first.rows["contact_attributes"]


def test_a_snapshot_item_that_cannot_be_written_is_skipped_not_fatal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A ticket type whose name holds a lone surrogate (the model takes it; Parquet cannot) is
    counted invalid; the others are written, the run goes on."""
    import httpx

    from tests.fake_intercom import FakeIntercom, ticket_type

    bad_name = {"type": "ticket_type", "id": "8", "name": "Bug \ud800"}  # valid for pydantic
    fake = FakeIntercom([], ticket_types=[ticket_type("7", "Bug"), bad_name])
    settings = IntercomSettings(token=SecretStr(fake.token), base_url="http://fake.test")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/ticket_types":
            return fake.handle(request)
        body = {"type": "list", "data": fake.ticket_types}  # the surrogate escaped, as JSON
        headers = {"content-type": "application/json"}
        return httpx.Response(200, content=json.dumps(body).encode(), headers=headers)

    async def go() -> Any:
        transport = httpx.MockTransport(handle)
        async with IntercomClient(settings, budget=RateBudget(), transport=transport) as client:
            return await snapshot_dimensions(client, Storage(str(tmp_path)), PiiPolicy())

    snap = asyncio.run(go())
    assert snap.invalid["ticket_types"] == 1 and snap.rows["ticket_types"] == 1
    kinds = pq.read_table(tmp_path / "dimensions/ticket_types.parquet").to_pylist()
    assert [k["ticket_type_id"] for k in kinds] == ["7"]
