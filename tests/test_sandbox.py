"""The Intercom API sandbox: its world generator and its HTTP behaviour, over real sockets."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from intercom_enrichment.sandbox import FaultRule, SandboxConfig, SandboxServer, World
from intercom_enrichment.sandbox.config import DEFAULT_WINDOW_START

SMALL = SandboxConfig(
    seed=11,
    conversations=400,
    contacts=120,
    deleted_contact_share=0.1,
    merged_contact_share=0.1,
    unsearchable_contact_share=0.1,
    multi_contact_share=0.3,
    truncated_parts_share=0.0,
    rate_limit=100_000,
)
START = SMALL.start_ts
END = SMALL.end_ts


def _client(server: SandboxServer, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.token}", **headers},
        timeout=10.0,
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SMALL) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with _client(sandbox) as http:
        yield http


def _window_query(lo: int, hi: int, per_page: int, cursor: str | None = None) -> dict[str, Any]:
    return {
        "query": {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": ">", "value": lo},
                {"field": "updated_at", "operator": "<", "value": str(hi)},
            ],
        },
        "pagination": {"per_page": per_page, "starting_after": cursor},
    }


def _all_pages(http: httpx.Client, lo: int, hi: int, per_page: int) -> list[dict[str, Any]]:
    """Every page of a conversation search, following `pages.next` cursors."""
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = http.post("/conversations/search", json=_window_query(lo, hi, per_page, cursor))
        assert response.status_code == 200, response.text
        pages.append(response.json())
        following = pages[-1]["pages"].get("next")
        if following is None:
            return pages
        assert following["per_page"] == per_page
        cursor = following["starting_after"]


def _error(response: httpx.Response) -> tuple[str, str]:
    body = response.json()
    assert body["type"] == "error.list"
    assert len(body["request_id"]) == 36
    [error] = body["errors"]
    return error["code"], error["message"]


def _status_examples(world: World) -> dict[str, int]:
    """The first contact index of each status."""
    examples: dict[str, int] = {}
    for j in range(world.contact_count):
        examples.setdefault(world.contact_status(j), j)
    assert set(examples) == {"active", "deleted", "merged", "unsearchable"}
    return examples


# -- the world ---------------------------------------------------------------------------------


def test_world_is_deterministic() -> None:
    first, second = World(SMALL), World(SMALL)
    for i in (0, 1, 57, 399):
        assert first.conversation_with_parts(i, "2.16") == second.conversation_with_parts(i, "2.16")
    for j in (0, 5, 119):
        assert first.contact(j, "2.15") == second.contact(j, "2.15")
        assert first.segments(j) == second.segments(j)
    other = World(SandboxConfig(seed=12, conversations=400, contacts=120))
    assert other.conversation(3) != first.conversation(3)
    assert other.contact_id(3) != first.contact_id(3)


def test_search_items_match_get_without_parts() -> None:
    world = World(SMALL)
    for i in range(0, 400, 37):
        full = world.conversation_with_parts(i, "2.14")
        parts = full.pop("conversation_parts")
        assert full == world.conversation(i, "2.14")
        assert parts["total_count"] == world.part_count(i)
        assert len(parts["conversation_parts"]) == parts["total_count"]
        if full["statistics"] is not None:
            assert full["statistics"]["count_conversation_parts"] == parts["total_count"]


def test_index_range_matches_brute_force() -> None:
    config = SandboxConfig(conversations=97, window_end=DEFAULT_WINDOW_START + timedelta(0, 1000))
    world = World(config)
    stamps = [world.updated_at(i) for i in range(97)]
    assert stamps == sorted(stamps)
    assert config.start_ts <= stamps[0] and stamps[-1] < config.end_ts
    start = config.start_ts
    for lo in range(start - 20, start + 1020, 7):
        for hi in range(lo - 3, start + 1030, 13):
            expected = [i for i, ts in enumerate(stamps) if lo <= ts < hi]
            assert list(world.index_range(lo, hi)) == expected, (lo, hi)


def test_ids_round_trip() -> None:
    world = World(SMALL)
    for j in (0, 1, 119):
        contact_id = world.contact_id(j)
        assert len(contact_id) == 24 and int(contact_id, 16) >= 0
        assert world.contact_index(contact_id) == j
    assert world.contact_index(world.contact_id(0).replace("0000000b", "0000000c", 1)) is None
    assert world.contact_index("not-a-contact-id-at-all!") is None
    assert world.contact_index(f"{11:08x}{120:016x}") is None  # out of range
    assert world.conversation_index("100000399") == 399
    for bad in ("100000400", "99999999", "0100000001", "abc", "１００000001"):
        assert world.conversation_index(bad) is None


def test_contact_mix_and_skew() -> None:
    world = World(SandboxConfig(seed=3))
    counts = [len(world.conversation_contacts(i)) for i in range(2000)]
    assert 0.02 < counts.count(0) / 2000 < 0.09
    assert 0.06 < sum(1 for c in counts if c >= 2) / 2000 < 0.15
    assert max(counts) == 3
    per_contact: dict[int, int] = {}
    for i in range(2000):
        contacts = world.conversation_contacts(i)
        assert len(set(contacts)) == len(contacts)
        for j in contacts:
            per_contact[j] = per_contact.get(j, 0) + 1
    top = sorted(per_contact.values(), reverse=True)
    assert top[0] > 20 * top[len(top) // 2]  # a few contacts own many conversations


# -- search ------------------------------------------------------------------------------------


def test_search_pagination_returns_each_conversation_once(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    lo, hi = START + 3_600, START + 6 * 3_600
    expected = [sandbox.world.conversation_id(i) for i in sandbox.world.index_range(lo, hi + 1)]
    pages = _all_pages(client, lo, hi, per_page=5)
    ids = [c["id"] for page in pages for c in page["conversations"]]
    assert ids == expected  # inclusive bounds, ascending order, no gaps, no duplicates
    assert len(pages) == pages[0]["pages"]["total_pages"] == -(-len(expected) // 5)
    assert [page["pages"]["page"] for page in pages] == list(range(1, len(pages) + 1))
    assert {page["total_count"] for page in pages} == {len(expected)}
    first = pages[0]["conversations"][0]
    assert first["type"] == "conversation" and "conversation_parts" not in first
    assert all(lo <= c["updated_at"] <= hi for page in pages for c in page["conversations"])


@pytest.mark.parametrize("boundary", ["inclusive", "strict"])
def test_boundary_modes(boundary: str) -> None:
    config = SandboxConfig(conversations=240, boundary=boundary)  # type: ignore[arg-type]
    with SandboxServer(config) as server, _client(server) as http:
        lo, hi = server.world.updated_at(10), server.world.updated_at(20)  # both are taken
        response = http.post("/conversations/search", json=_window_query(lo, hi, 150))
        ids = [c["id"] for c in response.json()["conversations"]]
    expected = range(10, 21) if boundary == "inclusive" else range(11, 20)
    assert ids == [str(100_000_000 + i) for i in expected]


@pytest.mark.parametrize("order", ["descending", "shuffled"])
def test_result_orders(order: str) -> None:
    config = SandboxConfig(conversations=120, order=order)  # type: ignore[arg-type]
    with SandboxServer(config) as server, _client(server) as http:
        pages = _all_pages(http, START, END, per_page=7)
    items = [c for page in pages for c in page["conversations"]]
    assert sorted(int(c["id"]) for c in items) == list(range(100_000_000, 100_000_120))
    stamps = [c["updated_at"] for c in items]
    if order == "descending":
        assert stamps == sorted(stamps, reverse=True)
    else:
        assert stamps != sorted(stamps) and stamps != sorted(stamps, reverse=True)


def test_single_filter_and_numeric_string_values(client: httpx.Client) -> None:
    single = {"query": {"field": "updated_at", "operator": ">=", "value": str(END - 6 * 3_600)}}
    body = client.post("/conversations/search", json=single).json()
    assert body["total_count"] == len(World(SMALL).index_range(END - 6 * 3_600, END))
    assert body["pages"]["per_page"] == 20 and len(body["conversations"]) == 20
    clamped = client.post("/conversations/search", json={**single, "pagination": {"per_page": 999}})
    assert clamped.json()["pages"]["per_page"] == 150


def test_bad_queries_and_cursors_are_400(client: httpx.Client) -> None:
    unknown_field = {"query": {"field": "created_at", "operator": ">", "value": 1}}
    response = client.post("/conversations/search", json=unknown_field)
    assert response.status_code == 400 and _error(response)[0] == "parameter_invalid"
    for cursor in ("garbage!", "eyJvZmZzZXQiOiA1fQ"):
        response = client.post("/conversations/search", json=_window_query(START, END, 5, cursor))
        assert response.status_code == 400
        assert _error(response)[0] == "client_error"  # as documented: the code says no "cursor"
        assert "starting_after" in _error(response)[1]
    # A valid cursor of another query is refused too.
    first = client.post("/conversations/search", json=_window_query(START, END, 5)).json()
    cursor = first["pages"]["next"]["starting_after"]
    response = client.post("/conversations/search", json=_window_query(START, END - 1, 5, cursor))
    assert response.status_code == 400 and _error(response)[0] == "client_error"
    response = client.post("/conversations/search", content=b"{not json")
    assert response.status_code == 400


def _airbyte_query(since: int, cursor: str = "", per_page: int = 150) -> dict[str, Any]:
    """The body Airbyte's source-intercom (0.8.3, its manifest's `requester_incremental_search`)
    sends: ``updated_at > t OR updated_at = t``, ascending, and an empty ``starting_after`` on
    the first page (its template renders a missing cursor as ``''``)."""
    either = [
        {"field": "updated_at", "operator": ">", "value": since},
        {"field": "updated_at", "operator": "=", "value": since},
    ]
    return {
        "query": {"operator": "OR", "value": either},
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": {"per_page": per_page, "page": None, "starting_after": cursor},
    }


def test_or_groups_join_ranges_into_one(client: httpx.Client) -> None:
    since = END - 6 * 3_600
    at_or_after = {"query": {"field": "updated_at", "operator": ">=", "value": since}}
    expected = client.post("/conversations/search", json=at_or_after).json()
    joined = client.post("/conversations/search", json=_airbyte_query(since)).json()
    assert joined["total_count"] == expected["total_count"] > 0
    assert joined["conversations"][:20] == expected["conversations"]
    apart = [
        {"field": "updated_at", "operator": "<", "value": START + 100},
        {"field": "updated_at", "operator": ">", "value": START + 5_000},
    ]
    response = client.post(
        "/conversations/search", json={"query": {"operator": "OR", "value": apart}}
    )
    assert response.status_code == 400 and _error(response)[0] == "parameter_invalid"


def test_duplicate_across_pages() -> None:
    config = SandboxConfig(conversations=60, duplicate_across_pages=True)
    with SandboxServer(config) as server, _client(server) as http:
        pages = _all_pages(http, START, END, per_page=10)
    batches = [[c["id"] for c in page["conversations"]] for page in pages]
    assert len(batches) > 2
    for previous, current in itertools.pairwise(batches):
        assert current[0] == previous[-1]
    ids = [i for batch in batches for i in batch]
    assert len(ids) > 60 and sorted(set(ids)) == [str(100_000_000 + i) for i in range(60)]
    assert pages[0]["pages"]["total_pages"] == len(pages)


def test_large_world_answers_its_last_hour_without_generating_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The world is generated lazily: one page of a 200,000-conversation world builds that
    page's conversations (and the contacts they name), not the world."""
    built: list[int] = []
    conversation = World.conversation

    def counted(self: World, i: int, *args: Any) -> dict[str, Any]:
        built.append(i)
        return conversation(self, i, *args)

    monkeypatch.setattr(World, "conversation", counted)
    config = SandboxConfig(conversations=200_000, contacts=50_000)
    with SandboxServer(config) as server, _client(server) as http:
        response = http.post("/conversations/search", json=_window_query(END - 3_600, END - 1, 150))
    body = response.json()
    assert body["total_count"] == len(server.world.index_range(END - 3_600, END)) > 8_000
    assert len(body["conversations"]) == 150
    assert all(c["updated_at"] >= END - 3_600 for c in body["conversations"])
    assert len(built) == 150  # the page, not the 8,000 of the hour nor the 200,000 of the world


# -- contacts ----------------------------------------------------------------------------------


def test_contacts_search_omits_deleted_merged_and_unsearchable(
    sandbox: SandboxServer, client: httpx.Client
) -> None:
    world = sandbox.world
    all_ids = [world.contact_id(j) for j in range(world.contact_count)]
    active = [world.contact_id(j) for j in range(120) if world.contact_status(j) == "active"]
    assert 40 < len(active) < 110
    query = {"field": "id", "operator": "IN", "value": [*all_ids, "f" * 24]}
    found: list[str] = []
    cursor = None
    while True:
        pagination = {"per_page": 7, "starting_after": cursor}
        body = {"query": {"operator": "AND", "value": [query]}, "pagination": pagination}
        page = client.post("/contacts/search", json=body).json()
        assert page["type"] == "list" and page["total_count"] == len(active)
        found += [contact["id"] for contact in page["data"]]
        if "next" not in page["pages"]:
            break
        cursor = page["pages"]["next"]["starting_after"]
    assert found == active
    unsearchable = world.contact_id(_status_examples(world)["unsearchable"])
    assert client.get(f"/contacts/{unsearchable}").status_code == 200


def test_contacts_search_by_updated_at(sandbox: SandboxServer, client: httpx.Client) -> None:
    """A query on `updated_at` alone (a contact's date field) answers the searchable contacts
    updated in its range, oldest first, as Airbyte's contacts stream reads them."""
    world = sandbox.world
    stamps = {
        world.contact_id(j): world.contact(j)["updated_at"]
        for j in range(world.contact_count)
        if world.contact_status(j) == "active"
    }
    since = sorted(stamps.values())[len(stamps) // 3]
    found: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(10):
        page = client.post("/contacts/search", json=_airbyte_query(since, cursor, 9)).json()
        found += page["data"]
        if "next" not in page["pages"]:
            break
        cursor = page["pages"]["next"]["starting_after"]
    expected = sorted((t, i) for i, t in stamps.items() if t >= since)
    assert [(c["updated_at"], c["id"]) for c in found] == expected
    assert len(found) > 40 and page["total_count"] == len(expected)


def test_get_contact_statuses(sandbox: SandboxServer, client: httpx.Client) -> None:
    world = sandbox.world
    examples = _status_examples(world)
    deleted = client.get(f"/contacts/{world.contact_id(examples['deleted'])}")
    assert deleted.status_code == 404 and _error(deleted) == ("not_found", "User Not Found")
    assert client.get("/contacts/0123456789abcdef01234567").status_code == 404
    merged_id = world.contact_id(examples["merged"])
    old = client.get(f"/contacts/{merged_id}")  # no Intercom-Version: the app's 2.14
    assert old.status_code == 404 and _error(old) == ("not_found", "User Not Found")
    merged = client.get(f"/contacts/{merged_id}", headers={"Intercom-Version": "2.16"})
    assert merged.status_code == 410 and _error(merged)[0] == "contact_merged"
    link = merged.headers["Link"]
    assert link.startswith("</contacts/") and link.endswith('>; rel="canonical"')
    canonical = client.get(link[1 : link.index(">")])
    assert canonical.status_code == 200
    assert world.contact_status(world.contact_index(canonical.json()["id"]) or 0) == "active"
    active = world.contact_id(examples["active"])
    contact = client.get(f"/contacts/{active}").json()
    assert contact["type"] == "contact" and contact["id"] == active
    assert set(contact) >= _EXAMPLE_CONTACT_FIELDS
    segments = client.get(f"/contacts/{active}/segments")
    assert segments.status_code == 200 and segments.json()["type"] == "list"
    deleted_id = world.contact_id(examples["deleted"])
    assert client.get(f"/contacts/{deleted_id}/segments").status_code == 404


_EXAMPLE_CONTACT_FIELDS = {
    *("external_id", "role", "email", "phone", "name", "owner_id", "browser", "os", "location"),
    *("created_at", "updated_at", "signed_up_at", "last_seen_at", "last_replied_at"),
    *("last_contacted_at", "language_override", "custom_attributes", "tags", "companies"),
}


# -- conversations, versions -------------------------------------------------------------------


def test_truncated_parts() -> None:
    config = SandboxConfig(conversations=5, truncated_parts_share=1.0)
    with SandboxServer(config) as server, _client(server) as http:
        conversation = http.get("/conversations/100000003").json()
        missing = http.get("/conversations/100000005")
    parts = conversation["conversation_parts"]
    assert parts["type"] == "conversation_part.list"
    assert len(parts["conversation_parts"]) == 500 < parts["total_count"] <= 700
    stamps = [part["created_at"] for part in parts["conversation_parts"]]
    assert stamps == sorted(stamps) and stamps[-1] == conversation["updated_at"]
    last_id = int(parts["conversation_parts"][-1]["id"])
    assert int(parts["conversation_parts"][0]["id"]) == last_id - 499  # the most recent 500
    assert missing.status_code == 404 and _error(missing) == ("not_found", "Resource Not Found")


def test_version_differences(sandbox: SandboxServer) -> None:
    query = _window_query(START, END, 150)
    with (
        _client(sandbox, **{"Intercom-Version": "2.15"}) as old,
        _client(sandbox, **{"Intercom-Version": "2.16"}) as new,
    ):
        before = old.post("/conversations/search", json=query).json()["conversations"]
        after = new.post("/conversations/search", json=query).json()["conversations"]
        owned = next(
            sandbox.world.contact_id(j)
            for j in range(120)
            if sandbox.world.contact_status(j) != "deleted"
            and sandbox.world.contact_status(j) != "merged"
            and sandbox.world.contact(j)["owner_id"] is not None
        )
        old_owner = old.get(f"/contacts/{owned}").json()["owner_id"]
        new_owner = new.get(f"/contacts/{owned}").json()["owner_id"]
    assert isinstance(old_owner, int) and new_owner == str(old_owner)
    assert {c["priority"] for c in before} == {"priority", "not_priority"}
    assert {c["priority"] for c in after} == {"none", "low", "medium", "high", "urgent"}
    for c_old, c_new in zip(before, after, strict=True):
        assert (c_old["priority"] == "not_priority") == (c_new["priority"] == "none")
        for field in ("admin_assignee_id", "team_assignee_id"):
            assert c_new[field] == (0 if c_old[field] is None else c_old[field])
    assert any(c["admin_assignee_id"] is None for c in before)
    assert any(c["team_assignee_id"] is None for c in before)


def test_unknown_version_is_400(sandbox: SandboxServer) -> None:
    for version in ("2.17", "1.4", "Preview"):  # every published version is accepted
        with _client(sandbox, **{"Intercom-Version": version}) as http:
            assert http.get("/me").status_code == 200
    for version in ("2.18", "1.5", "latest", "preview"):
        with _client(sandbox, **{"Intercom-Version": version}) as http:
            response = http.get("/me")
        assert response.status_code == 400
        assert _error(response)[0] == "intercom_version_invalid"
        assert "X-RateLimit-Limit" in response.headers


# -- auth, rate limits, faults -----------------------------------------------------------------


def test_unauthorized_without_rate_limit_headers(sandbox: SandboxServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": sandbox.token}):
        response = httpx.get(f"{sandbox.url}/me", headers=headers)
        assert response.status_code == 401
        assert _error(response) == ("unauthorized", "Access Token Invalid")
        assert not any(name.lower().startswith("x-ratelimit") for name in response.headers)
    with _client(sandbox) as http:
        response = http.get("/me")
    assert response.status_code == 200 and response.json()["type"] == "admin"
    assert response.headers["X-RateLimit-Limit"] == "100000"


def test_rate_limit_per_fixed_window() -> None:
    config = SandboxConfig(conversations=10, rate_limit=5, retry_after_header=True)
    with SandboxServer(config) as server, _client(server) as http:
        responses: list[httpx.Response] = []
        while len(responses) < 20 and 429 not in (r.status_code for r in responses):
            sent = time.time()  # the call reaches the server between sent and received
            responses.append(http.get("/me"))
            received = time.time()
        stats = server.stats.snapshot()
    limited = responses[-1]
    assert limited.status_code == 429
    # The calls of the window the 429 fell in (a window may have rolled over before it).
    window = [
        r
        for r in responses
        if r.headers["X-RateLimit-Reset"] == limited.headers["X-RateLimit-Reset"]
    ]
    assert [r.status_code for r in window] == [200] * 5 + [429]
    assert [r.headers["X-RateLimit-Remaining"] for r in window] == list("432100")
    assert _error(limited) == ("rate_limit_exceeded", "Exceeded rate limit of 5 in 10_seconds")
    assert limited.headers["X-RateLimit-Limit"] == "5"
    reset = int(limited.headers["X-RateLimit-Reset"])
    # The end of the window the call reached the server in (not now: that window may be over).
    assert reset % 10 == 0 and sent < reset <= received + 10
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert stats["rate_limited"] == 1
    assert stats["responses"] == {200: len(responses) - 1, 429: 1}


def test_fault_first_n_503() -> None:
    config = SandboxConfig(conversations=10, faults=(FaultRule("conversations.get", "503", 2),))
    with SandboxServer(config) as server, _client(server) as http:
        statuses = [http.get("/conversations/100000001").status_code for _ in range(3)]
        failed = http.get("/conversations/100000002")  # the rule is used up
        assert http.get("/me").status_code == 200  # other endpoints never matched
        stats = server.stats.snapshot()
    assert statuses == [503, 503, 200] and failed.status_code == 200
    assert stats["faults_injected"] == {"503": 2}
    assert stats["requests"] == {"conversations.get": 4, "me": 1}


_FAULT_ERRORS = {
    "invalid_cursor": (400, "client_error"),
    "429": (429, "rate_limit_exceeded"),
    "408": (408, "request_timeout"),
    "409": (409, "conflict"),
}


@pytest.mark.parametrize(
    "kind", ["drop", "malformed", "html", "invalid_cursor", "429", "408", "409"]
)
def test_other_faults(kind: str) -> None:
    rule = FaultRule("*", kind, first_n=1)  # type: ignore[arg-type]
    response: httpx.Response | None = None
    with SandboxServer(SandboxConfig(conversations=30, faults=(rule,))) as server:
        with _client(server) as http:
            query = _window_query(START, END, 5)
            if kind == "invalid_cursor":  # only requests that carry a cursor are faulted
                first = http.post("/conversations/search", json=query).json()
                query = _window_query(START, END, 5, first["pages"]["next"]["starting_after"])
            if kind == "drop":
                with pytest.raises(httpx.TransportError):
                    http.post("/conversations/search", json=query)
            else:
                response = http.post("/conversations/search", json=query)
            retried = http.post("/conversations/search", json=query)
        stats = server.stats.snapshot()
    assert retried.status_code == 200 and retried.json()["type"] == "conversation.list"
    assert stats["faults_injected"] == {kind: 1}
    if kind in _FAULT_ERRORS:
        assert response is not None
        assert (response.status_code, _error(response)[0]) == _FAULT_ERRORS[kind]
    elif kind == "malformed":
        assert response is not None and response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
    elif kind == "html":
        assert response is not None and response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")


def test_latency_and_slow_fault() -> None:
    slow = FaultRule("me", "slow", first_n=1, slow_seconds=0.4)
    config = SandboxConfig(conversations=1, latency_ms=(50, 60), faults=(slow,))
    with SandboxServer(config) as server, _client(server) as http:
        timings = []
        for _ in range(3):
            began = time.perf_counter()
            assert http.get("/me").status_code == 200
            timings.append(time.perf_counter() - began)
        stats = server.stats.snapshot()
    assert timings[0] >= 0.45 and all(0.05 <= t < 0.4 for t in timings[1:])
    assert stats["faults_injected"] == {"slow": 1}


def test_probability_faults_are_seeded() -> None:
    def statuses() -> list[int]:
        rule = FaultRule("me", "500", probability=0.5)
        config = SandboxConfig(conversations=1, faults=(rule,))
        with SandboxServer(config) as server, _client(server) as http:
            return [http.get("/me").status_code for _ in range(30)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 500}


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError):
        FaultRule("conversations.list", "500", first_n=1)
    with pytest.raises(ValueError):
        FaultRule("*", "500")
    with pytest.raises(ValueError):
        SandboxConfig(boundary="exclusive")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SandboxConfig(deleted_contact_share=0.7, merged_contact_share=0.7)
