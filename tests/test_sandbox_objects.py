"""The sandbox's tickets, companies, deleted conversations, statistics/Fin and attribute
definitions, over real sockets (Intercom-OpenAPI descriptions/2.14–2.16 decide the shapes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from intercom_enrichment.sandbox import FaultRule, SandboxConfig, SandboxServer, World
from intercom_enrichment.sandbox.vocab import ADMINS
from tests.test_sandbox import _window_query as _query

Start = Callable[..., SandboxServer]
ADMIN_IDS = {a[0] for a in ADMINS}
VERSION_UNAVAILABLE = (
    400,
    "intercom_version_invalid",
    "Requested resource is not available in current API version.",
)


def _http(server: SandboxServer, version: str = "2.16") -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token}", "Intercom-Version": version}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def _pages(http: httpx.Client, path: str, lo: int, hi: int, per_page: int) -> list[dict]:
    """Every page of a search, following ``pages.next.starting_after``."""
    pages: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        response = http.post(path, json=_query(lo, hi, per_page, cursor))
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = (pages[-1]["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            return pages
    raise AssertionError("the search did not end")


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert body["type"] == "error.list" and len(body["request_id"]) == 36
    [error] = body["errors"]
    return response.status_code, error["code"], error["message"]


# -- tickets ---------------------------------------------------------------------------------


def test_ticket_search_pages_cover_every_ticket_once(sandbox: Start) -> None:
    server = sandbox(conversations=160, contacts=40)
    cfg, tickets = server.config, server.world.tickets
    assert tickets.count == 40  # conversations // 4 by default
    with _http(server) as http:
        pages = _pages(http, "/tickets/search", cfg.start_ts, cfg.end_ts, per_page=7)
    items = [t for page in pages for t in page["tickets"]]
    assert [t["id"] for t in items] == [tickets.ticket_id(t) for t in range(40)]
    assert {page["type"] for page in pages} == {"ticket.list"}
    assert {page["total_count"] for page in pages} == {40}
    assert len(pages) == pages[0]["pages"]["total_pages"] == 6
    stamps = [t["updated_at"] for t in items]
    assert stamps == sorted(stamps) and cfg.start_ts <= stamps[0] and stamps[-1] < cfg.end_ts
    assert not {t["id"] for t in items} & {server.world.conversation_id(i) for i in range(160)}
    assert all(t["ticket_id"] != t["id"] for t in items)
    assert all(t["ticket_parts"]["type"] == "ticket_part.list" for t in items)  # as 2.16 shows


def test_ticket_search_time_range_cursor_and_refusals(sandbox: Start) -> None:
    server = sandbox(conversations=400, contacts=40, boundary="strict")
    timeline = server.world.tickets.timeline
    lo, hi = timeline.at(10), timeline.at(30)
    with _http(server) as http:
        found = [t["id"] for p in _pages(http, "/tickets/search", lo, hi, 4) for t in p["tickets"]]
        first = http.post("/conversations/search", json=_query(lo, hi, 4)).json()
        cursor = first["pages"]["next"]["starting_after"]  # a conversation cursor
        crossed = http.post("/tickets/search", json=_query(lo, hi, 4, cursor))
        too_old = _http(server, "2.9").post("/tickets/search", json=_query(lo, hi, 4))
    expected = [i for i in range(server.world.tickets.count) if lo < timeline.at(i) < hi]
    assert found == [server.world.tickets.ticket_id(i) for i in expected] and len(found) > 10
    assert _error(crossed)[:2] == (400, "client_error")
    assert _error(too_old)[:2] == VERSION_UNAVAILABLE[:2]


def test_ticket_object_parts_cap_and_resolution(sandbox: Start) -> None:
    server = sandbox(conversations=40, contacts=30, truncated_parts_share=1.0)
    with _http(server) as http:
        tickets = [http.get(f"/tickets/{200_000_000 + t}").json() for t in range(10)]
        missing = http.get("/tickets/100000001")  # a conversation id is no ticket id
    assert _error(missing)[:2] == (404, "ticket_not_found")
    states = {"submitted", "in_progress", "waiting_on_customer", "resolved"}
    for ticket in tickets:
        parts = ticket["ticket_parts"]
        assert len(parts["ticket_parts"]) == 500 < parts["total_count"] <= 700
        ids = [int(p["id"]) for p in parts["ticket_parts"]]
        assert ids == list(range(ids[-1] - 499, ids[-1] + 1))  # the most recent 500
        assert parts["ticket_parts"][-1]["created_at"] == ticket["updated_at"]
        assert ticket["category"] in ("Customer", "Back-office", "Tracker")
        assert ticket["category"] == ticket["ticket_type"]["category"]
        assert ticket["ticket_state"]["category"] in states
        assert ticket["open"] == (ticket["ticket_state"]["category"] != "resolved")
        assert {"_default_title_", "_default_description_"} <= set(ticket["ticket_attributes"])
        assert set(ticket["linked_objects"]) == {"type", "data", "total_count", "has_more"}
        changes = [p for p in parts["ticket_parts"] if "ticket_state" in p]
        assert all(p["part_type"] == "ticket_state_updated_by_admin" for p in changes)
        authors = {(p["author"]["type"], p["author"]["id"]) for p in parts["ticket_parts"]}
        assert {kind for kind, _ in authors} <= {"admin", "bot", "user"}
        assert ("admin", "278") not in authors  # Fin is a bot (schema ticket_part_author)
        if ticket["ticket_state"]["category"] == "resolved":  # time to resolution from parts
            last = parts["ticket_parts"][-1]
            assert (last["part_type"], last["ticket_state"]) == (
                "ticket_state_updated_by_admin",
                "resolved",
            )
            assert last["previous_ticket_state"] != "resolved"
    assert any(t["ticket_state"]["category"] == "resolved" for t in tickets)


def test_ticket_contacts_and_links_are_the_world_s(sandbox: Start) -> None:
    server = sandbox(conversations=300, contacts=50, deleted_conversations=0.0)
    world = server.world
    with _http(server) as http:
        tickets = [http.get(f"/tickets/{world.tickets.ticket_id(t)}").json() for t in range(75)]
        linked = [t for t in tickets if t["linked_objects"]["data"]]
        assert len(linked) > 5
        for ticket in linked:
            [link] = ticket["linked_objects"]["data"]
            assert link["type"] == "conversation" and link["category"] is None
            back = http.get(f"/conversations/{link['id']}").json()["linked_objects"]["data"]
            assert back == [{"type": "ticket", "id": ticket["id"], "category": ticket["category"]}]
        http.post(f"/sandbox/conversations/{link['id']}/delete", json={})
        again = http.get(f"/tickets/{ticket['id']}").json()["linked_objects"]
    assert again == {"type": "list", "data": [], "total_count": 0, "has_more": False}
    contact_ids = {world.contact_id(j) for j in range(50)}
    for ticket in tickets:
        refs = ticket["contacts"]["contacts"]
        assert {r["id"] for r in refs} <= contact_ids and len(refs) == len({r["id"] for r in refs})
        assert all(set(r) == {"type", "id", "external_id"} for r in refs)


def test_assignee_ids_by_version(sandbox: Start) -> None:
    server = sandbox(conversations=200, contacts=30)
    with _http(server, "2.14") as old, _http(server, "2.15") as mid, _http(server) as new:
        q = _query(server.config.start_ts, server.config.end_ts, 50)
        before = old.post("/tickets/search", json=q).json()["tickets"]
        middle = mid.post("/tickets/search", json=q).json()["tickets"]
        after = new.post("/tickets/search", json=q).json()["tickets"]
    assert before == middle
    unassigned = 0
    for b, a in zip(before, after, strict=True):
        for field in ("admin_assignee_id", "team_assignee_id"):
            assert isinstance(b[field], str) and isinstance(a[field], int)
            assert a[field] == int(b[field])
            unassigned += b[field] == "0"
        assert "previous_ticket_state_id" in a and "previous_ticket_state_id" not in b
        assert {k: v for k, v in a.items() if not k.endswith("assignee_id")} == {
            k: v for k, v in b.items() if not k.endswith("assignee_id")
        } | {"previous_ticket_state_id": a["previous_ticket_state_id"]}
    assert unassigned > 5


def test_ticket_types_and_states(sandbox: Start) -> None:
    server = sandbox(conversations=8, contacts=4)
    with _http(server) as new, _http(server, "2.11") as v211, _http(server, "2.8") as v28:
        types = new.get("/ticket_types").json()
        states = new.get("/ticket_states").json()
        old_types = v211.get("/ticket_types").json()
        no_states = v211.get("/ticket_states")
        no_types = v28.get("/ticket_types")
        ticket = new.get("/tickets/200000001").json()
        old_ticket = v211.get("/tickets/200000001").json()
    assert types["type"] == "list" and len(types["data"]) == 4
    assert {t["category"] for t in types["data"]} == {"Customer", "Back-office", "Tracker"}
    for ticket_type in types["data"]:
        attributes = ticket_type["ticket_type_attributes"]["ticket_type_attributes"]
        assert [a["name"] for a in attributes][:2] == ["_default_title_", "_default_description_"]
        assert ticket_type["ticket_states"]["type"] == "list"
    assert ticket["ticket_type"] in types["data"]
    assert states["type"] == "list"
    assert {s["category"] for s in states["data"]} == {
        "submitted",
        "in_progress",
        "waiting_on_customer",
        "resolved",
    }
    assert any(s["archived"] for s in states["data"])
    assert all(s["ticket_types"]["type"] == "list" for s in states["data"])
    assert ticket["ticket_state"]["id"] in {s["id"] for s in states["data"]}
    assert old_types["type"] == "ticket_type.list" and len(old_types["ticket_types"]) == 4
    assert "ticket_states" not in old_types["ticket_types"][0]
    assert old_ticket["ticket_state"] == ticket["ticket_state"]["category"]
    assert old_ticket["ticket_state_internal_label"] == ticket["ticket_state"]["internal_label"]
    assert _error(no_states)[:2] == VERSION_UNAVAILABLE[:2]
    assert _error(no_types)[:2] == VERSION_UNAVAILABLE[:2]


def test_a_403_for_a_token_without_the_tickets_scope(sandbox: Start) -> None:
    server = sandbox(conversations=8, contacts=4, faults=(FaultRule("tickets.search", "403", 1),))
    with _http(server) as http:
        q = _query(server.config.start_ts, server.config.end_ts, 5)
        refused, accepted = (
            http.post("/tickets/search", json=q),
            http.post("/tickets/search", json=q),
        )
    status, code, message = _error(refused)
    assert (status, code) == (403, "forbidden") and "read_tickets" in message
    assert accepted.status_code == 200
    assert server.stats.snapshot()["faults_injected"] == {"403": 1}


def test_a_large_world_s_ticket_page_builds_only_that_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from intercom_enrichment.sandbox.tickets import Tickets

    built: list[int] = []
    ticket = Tickets.ticket

    def counted(self: Tickets, t: int, version: str) -> dict[str, Any]:
        built.append(t)
        return ticket(self, t, version)

    monkeypatch.setattr(Tickets, "ticket", counted)
    config = SandboxConfig(conversations=800_000, contacts=50_000, deleted_conversations=0.01)
    assert config.tickets == 200_000
    with SandboxServer(config) as server, _http(server) as http:
        end = config.end_ts
        tickets = http.post("/tickets/search", json=_query(end - 3_600, end - 1, 150)).json()
        conversations = http.post("/conversations/search", json=_query(end - 60, end - 1, 150))
    assert tickets["total_count"] > 8_000 and len(tickets["tickets"]) == 150
    assert sorted(built) == [int(t["id"]) - 200_000_000 for t in tickets["tickets"]]
    world = server.world
    hour = world.index_range(end - 60, end)
    deleted = [i for i in hour if world.deletions.is_deleted(i)]
    assert conversations.json()["total_count"] == len(hour) - len(deleted) > 0 < len(deleted)


# -- deleted conversations ---------------------------------------------------------------------


def test_deleting_a_conversation_removes_it_from_search_and_get(sandbox: Start) -> None:
    server = sandbox(conversations=120, contacts=30)
    cfg, world = server.config, server.world
    with _http(server) as http:
        assert http.get("/conversations/deleted").json()["total_count"] == 0
        pages = _pages(http, "/conversations/search", cfg.start_ts, cfg.end_ts, 50)
        before = [c["id"] for p in pages for c in p["conversations"]]
        victim = before[17]
        gone = http.post(
            f"/sandbox/conversations/{victim}/delete",
            json={"deleted_at": cfg.end_ts + 5, "metrics_retained": True},
        )
        again = http.post(f"/sandbox/conversations/{victim}/delete", json={})
        refused = httpx.post(f"{server.url}/sandbox/conversations/{before[3]}/delete")
        pages = _pages(http, "/conversations/search", cfg.start_ts, cfg.end_ts, 50)
        after = [c["id"] for p in pages for c in p["conversations"]]
        fetched = http.get(f"/conversations/{victim}")
        listed = http.get("/conversations/deleted").json()
    assert gone.status_code == 200 and gone.json() == {
        "type": "conversation",
        "id": victim,
        "metrics_retained": True,
        "deleted_at": cfg.end_ts + 5,
    }
    assert again.status_code == 400 and refused.status_code == 401
    assert after == [c for c in before if c != victim] and len(after) == 119
    assert {p["total_count"] for p in pages} == {119}
    assert _error(fetched)[:3] == (404, "not_found", "Resource Not Found")
    assert listed["type"] == "conversations.list" and listed["conversations"] == [gone.json()]
    with pytest.raises(ValueError):
        world.delete_conversation(victim)  # already deleted
    world.delete_conversation(before[0], deleted_at=cfg.end_ts + 9)
    moved = world.update_conversation(before[1], cfg.end_ts + 100)  # searched at its new time
    world.delete_conversation(before[1], deleted_at=cfg.end_ts + 101)
    later = (cfg.end_ts, cfg.end_ts + 3_600)
    with _http(server) as http:
        assert http.get("/conversations/deleted").json()["total_count"] == 3
        assert http.get(f"/conversations/{before[0]}").status_code == 404
        assert moved["id"] == before[1]
        assert _pages(http, "/conversations/search", *later, 50)[0]["total_count"] == 0


def test_a_deleted_share_and_the_deleted_listing(sandbox: Start) -> None:
    server = sandbox(conversations=1500, contacts=30, deleted_conversations=0.04)
    cfg, world = server.config, server.world
    deleted = {world.conversation_id(i) for i in range(1500) if world.deletions.is_deleted(i)}
    assert len(deleted) == 60  # an exact share
    with _http(server) as http, _http(server, "2.15") as old:
        pages = _pages(http, "/conversations/search", cfg.start_ts, cfg.end_ts, 150)
        found = {c["id"] for p in pages for c in p["conversations"]}
        listing, url = [], "/conversations/deleted?per_page=25&order=asc"
        while url:
            page = http.get(url).json()
            listing += page["conversations"]
            url = page["pages"]["next"]
        desc = http.get("/conversations/deleted", params={"per_page": 500}).json()
        bad = http.get("/conversations/deleted", params={"order": "sideways"})
        too_old = old.get("/conversations/deleted")
    assert len(found) == 1440 and not found & deleted
    assert {p["total_count"] for p in pages} == {1440}
    assert {d["id"] for d in listing} == deleted and len(listing) == 60
    assert [d["deleted_at"] for d in listing] == sorted(d["deleted_at"] for d in listing)
    assert all(set(d) == {"type", "id", "metrics_retained", "deleted_at"} for d in listing)
    assert {d["metrics_retained"] for d in listing} == {True, False}
    assert desc["pages"]["per_page"] == 60 and desc["conversations"] == listing[::-1][:60]
    assert desc["pages"]["next"] is None and desc["pages"]["total_pages"] == 1
    assert _error(bad)[:2] == (400, "parameter_invalid")
    assert _error(too_old) == VERSION_UNAVAILABLE


# -- statistics and Fin ------------------------------------------------------------------------


def test_statistics_fields_by_version_and_consistency(sandbox: Start) -> None:
    server = sandbox(conversations=300, contacts=40)
    cfg, world = server.config, server.world
    q = _query(cfg.start_ts, cfg.end_ts, 150)
    bodies = {}
    for version in ("2.11", "2.12", "2.13", "2.16"):
        with _http(server, version) as http:
            pages = _pages(http, "/conversations/search", cfg.start_ts, cfg.end_ts, 150)
            bodies[version] = [c for p in pages for c in p["conversations"]]
            assert http.post("/conversations/search", json=q).status_code == 200
    base = 19  # 18 fields and type, up to 2.11
    for version, extra in (("2.11", 0), ("2.12", 1), ("2.13", 4), ("2.16", 4)):
        with_stats = [c["statistics"] for c in bodies[version] if c["statistics"]]
        assert {len(s) for s in with_stats} == {base + extra}, version
    closed = 0
    for conversation in bodies["2.16"]:
        stats = conversation["statistics"]
        if stats is None:
            continue
        reopened_or_closed = stats["count_reopens"] > 0 or conversation["state"] == "closed"
        assert (stats["last_close_at"] is not None) == reopened_or_closed
        if stats["last_close_at"] is not None:
            assert stats["first_close_at"] <= stats["last_close_at"] <= conversation["updated_at"]
            assert stats["last_closed_by_id"] in ADMIN_IDS
        if conversation["state"] == "closed":
            closed += 1
            assert stats["last_close_at"] == conversation["updated_at"]
            if stats["count_reopens"] == 0:
                assert stats["first_close_at"] == stats["last_close_at"]
            i = world.conversation_index(conversation["id"])
            assert i is not None
            parts = world.conversation_with_parts(i)["conversation_parts"]["conversation_parts"]
            assert parts[-1]["author"]["id"] == stats["last_closed_by_id"]
            if stats["handling_time"] is not None:
                assert stats["adjusted_handling_time"] <= stats["handling_time"]
        if stats["first_assignment_at"] is not None:
            assert (
                stats["first_assignment_at"]
                <= stats["last_assignment_at"]
                <= stats["first_admin_reply_at"]
            )
        team = conversation["team_assignee_id"]
        times = stats["assigned_team_first_response_time"]
        assert [t["team_id"] for t in times] == ([team] if team else [])
    assert closed > 50


def test_fin_outcome_is_named_per_version(sandbox: Start) -> None:
    server = sandbox(conversations=600, contacts=40)
    cfg = server.config
    found: dict[str, list[dict[str, Any]]] = {}
    for version in ("2.10", "2.14", "2.15", "2.16"):
        with _http(server, version) as http:
            pages = _pages(http, "/conversations/search", cfg.start_ts, cfg.end_ts, 150)
            found[version] = [c for p in pages for c in p["conversations"]]
    assert not any("ai_agent" in c or "ai_agent_participated" in c for c in found["2.10"])
    old_names = {"escalated": "routed_to_team", "negative_feedback": "abandoned"}
    old_names["procedure_handoff"] = "routed_to_team"  # 2.14 has no name for it
    pairs = {}
    for old, mid, new in zip(found["2.14"], found["2.15"], found["2.16"], strict=True):
        assert old["id"] == new["id"] and mid["ai_agent"] == new["ai_agent"]
        assert (new["ai_agent"] is not None) == new["ai_agent_participated"]
        if new["ai_agent"] is None:
            continue
        state = new["ai_agent"]["resolution_state"]
        assert old["ai_agent"]["resolution_state"] == old_names.get(state, state)
        assert (state is None) == (new["ai_agent"]["last_answer_type"] is None)
        assert {"created_at", "updated_at"} <= set(old["ai_agent"])  # 2.14 has them
        sources = new["ai_agent"]["content_sources"]
        assert sources["type"] == "content_source.list"
        assert sources["total_count"] == len(sources["content_sources"])
        pairs[state] = old["ai_agent"]["resolution_state"]
    assert pairs["escalated"] == "routed_to_team" and pairs["negative_feedback"] == "abandoned"
    assert pairs["assumed_resolution"] == "assumed_resolution"
    assert "procedure_handoff" in pairs


# -- companies, attributes -------------------------------------------------------------------


def test_contact_companies_are_real_and_unknown_ones_404(sandbox: Start) -> None:
    server = sandbox(conversations=4, contacts=60, many_tags_share=0.3)
    world = server.world
    assert world.companies.count == 20
    seen = 0
    with _http(server) as http, _http(server, "2.14") as old:
        for j in range(60):
            if world.contact_status(j) != "active":
                continue
            cid = world.contact_id(j)
            refs = world.contact(j, full_lists=True)["companies"]["data"]
            listed = http.get(f"/contacts/{cid}/companies", params={"per_page": 150}).json()
            assert set(listed) == {"type", "companies", "pages", "total_count"}
            assert [c["id"] for c in listed["companies"]] == [r["id"] for r in refs]
            for company in listed["companies"][:2]:
                seen += 1
                assert http.get(f"/companies/{company['id']}").json() == company
                older = old.get(f"/companies/{company['id']}").json()
                assert "notes" in company and older == {
                    k: v for k, v in company.items() if k != "notes"
                }
        unknown = http.get(f"/companies/{world.contact_id(1)}")  # a contact id
        paged = http.get(f"/contacts/{world.contact_id(0)}/companies", params={"per_page": 1})
    assert seen > 20
    assert _error(unknown) == (404, "company_not_found", "Company Not Found")
    pages = paged.json()["pages"]
    if paged.json()["total_count"] > 1:
        assert pages["next"].endswith("page=2") and pages["total_pages"] > 1


def test_attribute_definitions(sandbox: Start) -> None:
    server = sandbox(conversations=300, contacts=60)
    world = server.world
    with _http(server) as new, _http(server, "2.15") as old:
        contact = new.get("/data_attributes", params={"model": "contact"}).json()["data"]
        every = new.get("/data_attributes").json()["data"]
        archived = new.get("/data_attributes", params={"include_archived": "true"}).json()
        gone = new.get("/data_attributes", params={"model": "conversation"})
        unknown = new.get("/data_attributes", params={"model": "ticket"})
        old_conversation = old.get("/data_attributes", params={"model": "conversation"}).json()
        old_every = old.get("/data_attributes").json()["data"]
        conversation = new.get("/conversations/attributes").json()
        not_yet = old.get("/conversations/attributes")
    assert {a["model"] for a in every} == {"contact", "company"}
    assert {a["model"] for a in old_every} == {"contact", "company", "conversation"}
    assert len(archived["data"]) == len(every) + 2 and not any(a["archived"] for a in every)
    assert _error(gone)[:2] == (422, "parameter_invalid")
    assert "GET /conversations/attributes" in _error(gone)[2]
    assert _error(unknown)[:2] == (400, "parameter_invalid")
    assert _error(not_yet)[:2] == VERSION_UNAVAILABLE[:2]
    assert conversation["type"] == "list"
    assert {a["type"] for a in conversation["data"]} == {"conversation_attribute"}
    defined = {a["name"] for a in conversation["data"]}
    assert defined == {a["name"] for a in old_conversation["data"]}
    used = {k for i in range(300) for k in world.conversation(i, "2.16")["custom_attributes"]}
    assert used and used <= defined
    contact_custom = {a["name"] for a in contact if a["custom"]}
    used = {k for j in range(60) for k in world.contact(j)["custom_attributes"]}
    assert used and used <= contact_custom
    company_custom = {a["name"] for a in every if a["model"] == "company" and a["custom"]}
    used = {k for c in range(20) for k in world.companies.company(c, "2.16")["custom_attributes"]}
    assert used and used <= company_custom


# -- determinism -------------------------------------------------------------------------------


def _bodies(server: SandboxServer) -> list[Any]:
    cfg = server.config
    with _http(server) as http:
        calls = [
            http.post("/tickets/search", json=_query(cfg.start_ts, cfg.end_ts, 20)),
            http.get("/tickets/200000007"),
            http.get(f"/companies/{server.world.companies.company_id(3)}"),
            http.get("/conversations/deleted"),
            http.get("/conversations/100000011"),
            http.get("/ticket_states"),
        ]
    return [r.json() for r in calls]


def test_same_seed_same_bodies(sandbox: Start) -> None:
    config = {"conversations": 200, "contacts": 40, "deleted_conversations": 0.05}
    first, second = _bodies(sandbox(**config)), _bodies(sandbox(**config))
    assert first == second
    other = _bodies(sandbox(seed=8, **config))
    assert other[0] != first[0] and other[2] != first[2] and other[3] != first[3]
    world = World(SandboxConfig(**config))  # type: ignore[arg-type]
    assert world.tickets.ticket(7, "2.16") == first[1]
