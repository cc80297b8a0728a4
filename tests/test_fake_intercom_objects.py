"""The independent fake (tests/fake_intercom.py) beyond conversations and contacts: tickets,
companies, deleted conversations, statistics and Fin, attribute definitions — each route and
each version difference, through a real httpx client (facts from
descriptions/<v>/api.intercom.io.yaml of intercom/Intercom-OpenAPI)."""

import asyncio
from typing import Any, Literal

import httpx
import pytest

from .fake_intercom import (
    FakeIntercom,
    company,
    contact,
    conversation,
    conversation_attribute,
    conversation_statistics,
    data_attribute,
    fin_ai_agent,
    ticket,
    ticket_part,
    ticket_type,
)

TOKEN = "tok-objects"
BASE = "https://api.intercom.io"


def client(fake: FakeIntercom, version: str = "2.16") -> httpx.Client:
    headers = {"Authorization": f"Bearer {TOKEN}", "Intercom-Version": version}
    return httpx.Client(transport=fake.transport(), base_url=BASE, headers=headers)


def window(lo: int | str, hi: int | str, per_page: int = 20) -> dict[str, Any]:
    return {
        "query": {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": ">", "value": lo},
                {"field": "updated_at", "operator": "<", "value": hi},
            ],
        },
        "pagination": {"per_page": per_page},
    }


def search_all(http: httpx.Client, path: str, body: dict[str, Any], key: str) -> list[str]:
    """Every id of a cursor-paged search, in the order served."""
    ids: list[str] = []
    for _ in range(20):
        page = http.post(path, json=body).json()
        ids += [item["id"] for item in page[key]]
        nxt = page["pages"].get("next")
        if not nxt:
            return ids
        body = {**body, "pagination": nxt}
    raise AssertionError("pages.next never ends")


# --- tickets ---------------------------------------------------------------------------------


def follow_pages(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    """Every page of a page-number listing, by its ``pages.next`` URLs (at most 20)."""
    bodies = [http.get(path).json()]
    while bodies[-1]["pages"].get("next"):
        assert len(bodies) < 20, "pages.next never ends"
        bodies.append(http.get(bodies[-1]["pages"]["next"]).json())
    return bodies


def test_ticket_search_is_a_ticket_list_in_descending_order_with_strict_bounds() -> None:
    fake = FakeIntercom([], tickets=[ticket(i, 1000 + i, ["c1"]) for i in range(10)], token=TOKEN)
    with client(fake) as http:
        page = http.post("/tickets/search", json=window(1002, 1008)).json()
    assert page["type"] == "ticket.list" and page["total_count"] == 5
    assert [t["id"] for t in page["tickets"]] == ["7", "6", "5", "4", "3"]
    assert page["pages"]["type"] == "pages" and "next" not in page["pages"]


def test_ticket_search_bounds_follow_the_boundary_option_and_accept_string_dates() -> None:
    fake = FakeIntercom(
        [],
        tickets=[ticket(i, 1000 + i, []) for i in range(10)],
        boundary="inclusive",
        order="ascending",
        token=TOKEN,
    )
    with client(fake) as http:  # the spec's ticket search example sends the date as a string
        page = http.post("/tickets/search", json=window("1002", "1008")).json()
    assert [t["id"] for t in page["tickets"]] == [str(i) for i in range(2, 9)]


def test_ticket_search_pages_by_this_fake_s_cursor_at_most_50_a_page() -> None:
    fake = FakeIntercom([], tickets=[ticket(i, 10_000 + i, []) for i in range(120)], token=TOKEN)
    with client(fake) as http:
        first = http.post("/tickets/search", json=window(0, 20_000, per_page=150)).json()
        ids = search_all(http, "/tickets/search", window(0, 20_000, per_page=150), "tickets")
    assert len(first["tickets"]) == 50 and first["pages"]["per_page"] == 50
    assert first["pages"]["next"] == {"per_page": 50, "starting_after": "opaque:50"}
    assert ids == [str(i) for i in range(119, -1, -1)]


def test_ticket_search_shares_rejected_cursors_and_repeats_with_conversations() -> None:
    tickets = [ticket(i, 1000 + i, []) for i in range(6)]
    fake = FakeIntercom([], tickets=tickets, duplicate_across_pages=True, token=TOKEN)
    with client(fake) as http:
        ids = search_all(http, "/tickets/search", window(0, 2000, per_page=4), "tickets")
        fake.reject_cursors = 1
        again = {**window(0, 2000), "pagination": {"per_page": 4, "starting_after": "opaque:4"}}
        rejected = http.post("/tickets/search", json=again)
    assert ids == ["5", "4", "3", "2", "2", "1", "0"]  # the last of page 1 served again
    assert rejected.status_code == 400
    assert rejected.json()["errors"][0] == {
        "code": "client_error",
        "message": "Invalid starting_after param",
    }


def test_ticket_search_fields_live_where_the_spec_says() -> None:
    tickets = [
        ticket(1, 1001, ["a"], category="Customer", state="in_progress", title="Printer"),
        ticket(2, 1002, ["b"], category="Back-office", state="resolved", title="Refund"),
        ticket(3, 1003, ["a", "c"], category="Tracker", title="Outage", type_id="9"),
    ]
    fake = FakeIntercom([], tickets=tickets, token=TOKEN)

    def ids(query: dict[str, Any]) -> list[str]:
        with client(fake) as http:
            page = http.post("/tickets/search", json={"query": query}).json()
        return sorted(t["id"] for t in page["tickets"])

    # A category is searched by its search term, not by its name.
    assert ids({"field": "category", "operator": "=", "value": "request"}) == ["1"]
    assert ids({"field": "category", "operator": "=", "value": "Customer"}) == []
    assert ids({"field": "category", "operator": "IN", "value": ["task", "tracker"]}) == ["2", "3"]
    assert ids({"field": "contact_ids", "operator": "=", "value": "a"}) == ["1", "3"]
    assert ids({"field": "title", "operator": "~", "value": "fun"}) == ["2"]
    assert ids({"field": "ticket_type_id", "operator": "=", "value": "9"}) == ["3"]
    assert ids({"field": "open", "operator": "=", "value": False}) == ["2"]
    nested = {
        "operator": "OR",
        "value": [
            {"field": "state", "operator": "=", "value": "in_progress"},
            {
                "operator": "AND",
                "value": [
                    {"field": "id", "operator": "NIN", "value": ["1", "2"]},
                    {"field": "created_at", "operator": ">=", "value": 903},
                ],
            },
        ],
    }
    assert ids(nested) == ["1", "3"]


def test_ticket_search_items_carry_their_capped_parts_as_the_example_does() -> None:
    parts = [ticket_part(k, 500 + k) for k in range(502)]
    fake = FakeIntercom([], tickets=[ticket(1, 1001, [], parts=parts)], token=TOKEN)
    with client(fake) as http:
        found = http.post("/tickets/search", json=window(0, 2000)).json()["tickets"][0]
    assert found["ticket_parts"]["total_count"] == 502
    assert len(found["ticket_parts"]["ticket_parts"]) == 500


@pytest.mark.parametrize(
    ("version", "admin", "team", "has_previous"),
    [("2.14", "0", "0", False), ("2.15", "42", "0", False), ("2.16", 42, 0, True)],
)
def test_ticket_assignee_ids_are_strings_before_2_16_and_integers_with_0_from_it(
    version: str, admin: Any, team: Any, has_previous: bool
) -> None:
    assigned = 0 if version == "2.14" else 42
    parts = [
        ticket_part(1, 900, ticket_state="submitted"),
        ticket_part(2, 950, ticket_state="in_progress", previous_ticket_state="submitted"),
    ]
    stored = ticket(7, 1000, ["c1"], state="in_progress", admin_assignee_id=assigned, parts=parts)
    fake = FakeIntercom([], tickets=[stored], token=TOKEN)
    with client(fake, version) as http:
        body = http.get("/tickets/7").json()
    assert body["type"] == "ticket" and body["id"] == "7" and body["ticket_id"] != body["id"]
    assert body["admin_assignee_id"] == admin and body["team_assignee_id"] == team
    assert type(body["admin_assignee_id"]) is type(admin)
    assert ("previous_ticket_state_id" in body) is has_previous
    if has_previous:
        assert body["previous_ticket_state_id"] == "7001"  # submitted, before in_progress
    assert body["ticket_state"]["category"] == "in_progress"
    assert stored["admin_assignee_id"] == assigned  # the stored ticket is left as it was


def test_a_ticket_state_change_part_names_both_states() -> None:
    change = ticket_part(3, 100, ticket_state="resolved", previous_ticket_state="in_progress")
    comment = ticket_part(4, 101, body="<p>Thanks</p>")
    assert change["part_type"] == "ticket_state_updated_by_admin" and "body" not in change
    assert (change["previous_ticket_state"], change["ticket_state"]) == ("in_progress", "resolved")
    assert comment["part_type"] == "comment" and "ticket_state" not in comment
    assert ticket(1, 10, [], parts=[comment])["previous_ticket_state_id"] is None


@pytest.mark.parametrize(("total", "expected"), [("all", 503), ("returned", 500)])
def test_a_ticket_serves_its_500_most_recent_parts(
    total: Literal["all", "returned"], expected: int
) -> None:
    parts = [ticket_part(k, 10_000 - k) for k in range(503)]  # built newest first
    fake = FakeIntercom(
        [], tickets=[ticket(1, 20_000, [], parts=parts)], ticket_parts_total=total, token=TOKEN
    )
    with client(fake) as http:
        listed = http.get("/tickets/1").json()["ticket_parts"]
    served = listed["ticket_parts"]
    assert listed["type"] == "ticket_part.list" and listed["total_count"] == expected
    assert len(served) == 500
    assert [p["created_at"] for p in served] == sorted(p["created_at"] for p in served)
    assert {p["id"] for p in served} == {str(k) for k in range(500)}  # the 3 oldest left out


def test_an_unknown_ticket_is_404_ticket_not_found() -> None:
    fake = FakeIntercom([], tickets=[ticket(1, 1000, [])], token=TOKEN)
    with client(fake) as http:
        response = http.get("/tickets/5001")  # the inbox number of ticket 1 is not its id
    assert response.status_code == 404
    assert response.json()["errors"] == [
        {"code": "ticket_not_found", "message": "Ticket not found"}
    ]


def test_ticket_types_and_states_are_unpaged_lists() -> None:
    types = [ticket_type("1", "Bug"), ticket_type("2", "Refund", "Back-office")]
    fake = FakeIntercom([], ticket_types=types, token=TOKEN)
    with client(fake) as http:
        listed_types = http.get("/ticket_types").json()
        listed_states = http.get("/ticket_states").json()
    assert listed_types == {"type": "list", "data": types}
    assert listed_states["type"] == "list" and "pages" not in listed_states
    assert [s["category"] for s in listed_states["data"]] == [
        "submitted",
        "in_progress",
        "waiting_on_customer",
        "resolved",
    ]
    assert listed_states["data"][2]["external_label"] == "Waiting on you"


@pytest.mark.parametrize(
    ("kind", "code"), [("scope", "forbidden"), ("plan", "api_plan_restricted")]
)
def test_a_token_without_tickets_gets_403_on_every_ticket_route(
    kind: Literal["scope", "plan"], code: str
) -> None:
    fake = FakeIntercom([], tickets=[ticket(1, 1000, [])], tickets_forbidden=kind, token=TOKEN)
    with client(fake) as http:
        responses = [
            http.post("/tickets/search", json=window(0, 2000)),
            http.get("/tickets/1"),
            http.get("/ticket_types"),
            http.get("/ticket_states"),
        ]
        conversations = http.post("/conversations/search", json=window(0, 2000))
    assert [r.status_code for r in responses] == [403] * 4
    assert {r.json()["errors"][0]["code"] for r in responses} == {code}
    assert conversations.status_code == 200  # only the ticket routes are refused


def test_the_fake_serves_an_async_client_too() -> None:
    fake = FakeIntercom([], tickets=[ticket(3, 1000, [])], token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.15"}

    async def main() -> Any:
        transport = fake.transport()
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as http:
            return (await http.get("/tickets/3")).json()

    assert asyncio.run(main())["admin_assignee_id"] == "0"


# --- companies -------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "has_notes"), [("2.15", False), ("2.16", True)])
def test_a_company_by_its_intercom_id(version: str, has_notes: bool) -> None:
    co = company("6762f07f", company_id="acme-1", custom_attributes={"paid": True, "mrr": 155.5})
    fake = FakeIntercom([], companies={"6762f07f": co}, token=TOKEN)
    with client(fake, version) as http:
        body = http.get("/companies/6762f07f").json()
        by_own_id = http.get("/companies/acme-1")
    assert body["type"] == "company" and body["id"] == "6762f07f"
    assert body["company_id"] == "acme-1" and body["custom_attributes"]["mrr"] == 155.5
    assert ("notes" in body) is has_notes
    assert "notes" in co  # the stored company is left whole
    assert by_own_id.status_code == 404  # the path takes Intercom's id, not the workspace's
    assert by_own_id.json()["errors"] == [
        {"code": "company_not_found", "message": "Company Not Found"}
    ]


@pytest.mark.parametrize("key", ["companies", "data"])
def test_a_contact_s_companies_are_paged_by_number_with_next_urls(key: str) -> None:
    five = [company(f"co{k}") for k in range(5)]
    fake = FakeIntercom(
        [],
        contacts={"c1": contact("c1")},
        contact_companies={"c1": five},
        company_list_key=key,
        token=TOKEN,
    )
    with client(fake) as http:
        bodies = follow_pages(http, "/contacts/c1/companies")
    assert [len(b[key]) for b in bodies] == [2, 2, 1]
    assert [c["id"] for b in bodies for c in b[key]] == [f"co{k}" for k in range(5)]
    assert all(b["type"] == "list" and b["total_count"] == 5 for b in bodies)
    assert bodies[0]["pages"]["next"] == f"{BASE}/contacts/c1/companies?page=2"
    assert bodies[0]["pages"]["total_pages"] == 3 and "next" not in bodies[-1]["pages"]
    assert ("companies" in bodies[0]) is (key == "companies")


# --- deleted conversations -------------------------------------------------------------------


def _with_deletions(n: int) -> FakeIntercom:
    fake = FakeIntercom([conversation(i, 1000 + i, []) for i in range(n)], token=TOKEN)
    for i in range(0, n, 2):  # every other one; deleted_at falls as the id rises
        fake.delete(str(i), deleted_at=5000 - i, metrics_retained=i % 4 == 0)
    return fake


def test_deleted_conversations_are_listed_newest_deletion_first_by_page_number() -> None:
    fake = _with_deletions(10)
    with client(fake) as http:
        bodies = follow_pages(http, "/conversations/deleted?per_page=2")
    items = [c for b in bodies for c in b["conversations"]]
    assert [c["id"] for c in items] == ["0", "2", "4", "6", "8"]
    assert items[0] == {"id": "0", "deleted_at": 5000, "metrics_retained": True}
    assert items[1]["metrics_retained"] is False  # "type" is optional and left out
    first = bodies[0]
    assert first["type"] == "conversations.list" and first["total_count"] == 5
    assert first["pages"] == {
        "type": "pages",
        "page": 1,
        "per_page": 2,
        "total_pages": 3,
        "next": f"{BASE}/conversations/deleted?per_page=2&order=desc&page=2",
    }


def test_deleted_conversations_in_ascending_order_and_at_most_60_a_page() -> None:
    fake = _with_deletions(150)  # 75 deleted
    with client(fake) as http:
        asc = http.get("/conversations/deleted", params={"order": "asc"}).json()
        big = http.get("/conversations/deleted", params={"per_page": 100}).json()
    assert [c["id"] for c in asc["conversations"]][:3] == ["148", "146", "144"]
    assert len(asc["conversations"]) == 20  # the default page
    assert len(big["conversations"]) == 60 and big["pages"]["per_page"] == 60
    assert "per_page=60" in big["pages"]["next"]


def test_deleted_conversations_vanish_from_search_and_get() -> None:
    fake = _with_deletions(4)
    fake.full_conversations = {str(i): conversation(i, 1000 + i, []) for i in range(4)}
    with client(fake) as http:
        found = search_all(http, "/conversations/search", window(0, 2000), "conversations")
        gets = [http.get(f"/conversations/{i}").status_code for i in range(4)]
    assert found == ["3", "1"]
    assert gets == [404, 200, 404, 200]


@pytest.mark.parametrize(("version", "status"), [("2.14", 400), ("2.15", 400), ("2.16", 200)])
def test_deleted_conversations_need_2_16(version: str, status: int) -> None:
    with client(_with_deletions(2), version) as http:
        response = http.get("/conversations/deleted")
    assert response.status_code == status
    if status == 400:
        assert response.json()["errors"] == [
            {
                "code": "intercom_version_invalid",
                "message": "Requested resource is not available in current API version.",
            }
        ]


# --- statistics and Fin ----------------------------------------------------------------------

STATISTICS_2_16 = {
    "type",
    "time_to_assignment",
    "time_to_admin_reply",
    "time_to_first_close",
    "time_to_last_close",
    "median_time_to_reply",
    "first_contact_reply_at",
    "first_assignment_at",
    "first_admin_reply_at",
    "first_close_at",
    "last_assignment_at",
    "last_assignment_admin_reply_at",
    "last_contact_reply_at",
    "last_admin_reply_at",
    "last_close_at",
    "last_closed_by_id",
    "count_reopens",
    "count_assignments",
    "count_conversation_parts",
    "assigned_team_first_response_time",
    "assigned_team_first_response_time_in_office_hours",
    "handling_time",
    "adjusted_handling_time",
}
LATER = {
    "assigned_team_first_response_time_in_office_hours",
    "handling_time",
    "adjusted_handling_time",
}


def test_the_statistics_builder_carries_every_field_and_refuses_unknown_ones() -> None:
    stats = conversation_statistics(count_conversation_parts=501, adjusted_handling_time=None)
    assert set(stats) == STATISTICS_2_16 and len(stats) == 23
    assert stats["count_conversation_parts"] == 501 and stats["adjusted_handling_time"] is None
    assert isinstance(stats["last_closed_by_id"], str)
    assert set(stats["assigned_team_first_response_time"][0]) == {
        "team_id",
        "team_name",
        "response_time",
    }
    with pytest.raises(TypeError):
        conversation_statistics(time_to_first_response=1)
    assert "statistics" not in conversation(1, 1000, [])


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.16", STATISTICS_2_16),
        ("2.14", STATISTICS_2_16),
        ("2.13", STATISTICS_2_16),
        ("2.12", STATISTICS_2_16 - LATER),
        ("2.10", STATISTICS_2_16 - LATER - {"assigned_team_first_response_time"}),
    ],
)
def test_statistics_fields_follow_the_version(version: str, expected: set[str]) -> None:
    conv = conversation(1, 1000, [], statistics=conversation_statistics())
    fake = FakeIntercom([conv], full_conversations={"1": conv}, token=TOKEN)
    with client(fake, version) as http:
        got = http.get("/conversations/1").json()["statistics"]
        searched = http.post("/conversations/search", json=window(0, 2000)).json()
    assert set(got) == expected
    assert set(searched["conversations"][0]["statistics"]) == expected


@pytest.mark.parametrize(
    ("stored", "in_2_14"),
    [
        ("escalated", "routed_to_team"),
        ("negative_feedback", "abandoned"),
        ("procedure_handoff", "routed_to_team"),
        ("assumed_resolution", "assumed_resolution"),
        ("confirmed_resolution", "confirmed_resolution"),
        (None, None),
    ],
)
def test_fin_resolution_states_take_their_2_14_names_before_2_15(
    stored: str | None, in_2_14: str | None
) -> None:
    conv = conversation(1, 1000, [], ai_agent=fin_ai_agent(stored))
    fake = FakeIntercom([conv], full_conversations={"1": conv}, token=TOKEN)
    states = {}
    for version in ("2.14", "2.15", "2.16"):
        with client(fake, version) as http:
            states[version] = http.get("/conversations/1").json()["ai_agent"]["resolution_state"]
            hit = http.post("/conversations/search", json=window(0, 2000)).json()
            assert hit["conversations"][0]["ai_agent"]["resolution_state"] == states[version]
    assert states == {"2.14": in_2_14, "2.15": stored, "2.16": stored}
    assert conv["ai_agent"]["resolution_state"] == stored  # the stored one is left as it was


@pytest.mark.parametrize(
    ("version", "has_agent", "has_times"),
    [("2.10", False, False), ("2.13", True, False), ("2.14", True, True)],
)
def test_the_fin_block_and_its_times_follow_the_version(
    version: str, has_agent: bool, has_times: bool
) -> None:
    conv = conversation(1, 1000, [], ai_agent=fin_ai_agent("escalated", rating=5))
    fake = FakeIntercom([], full_conversations={"1": conv}, token=TOKEN)
    with client(fake, version) as http:
        body = http.get("/conversations/1").json()
    assert ("ai_agent" in body) is has_agent and ("ai_agent_participated" in body) is has_agent
    if has_agent:
        agent = body["ai_agent"]
        assert ("created_at" in agent) is has_times and ("updated_at" in agent) is has_times
        assert agent["rating"] == 5 and agent["content_sources"]["total_count"] == 1


def test_fin_refuses_a_resolution_state_that_2_15_does_not_name() -> None:
    with pytest.raises(ValueError):
        fin_ai_agent("routed_to_team")


# --- attribute definitions -------------------------------------------------------------------


def _attributes() -> FakeIntercom:
    archived = {**data_attribute("legacy_plan", "company", custom=True), "archived": True}
    return FakeIntercom(
        [],
        data_attributes=[
            data_attribute("email"),
            data_attribute("paid_subscriber", data_type="boolean", custom=True),
            data_attribute("monthly_spend", "company", data_type="float"),
            archived,
            data_attribute("brand", "conversation", custom=True),
        ],
        conversation_attributes=[
            conversation_attribute(3, "Brand"),
            conversation_attribute(2, "Tier", "list", options=["Gold", "Silver"]),
            {**conversation_attribute(6, "Old"), "archived": True},
        ],
        token=TOKEN,
    )


@pytest.mark.parametrize(
    ("version", "query", "names"),
    [
        ("2.15", "", ["email", "paid_subscriber", "monthly_spend", "brand"]),
        ("2.16", "", ["email", "paid_subscriber", "monthly_spend"]),
        ("2.16", "?model=contact", ["email", "paid_subscriber"]),
        ("2.16", "?model=company&include_archived=true", ["monthly_spend", "legacy_plan"]),
        ("2.14", "?model=conversation", ["brand"]),
    ],
)
def test_data_attributes_by_model_and_version(version: str, query: str, names: list[str]) -> None:
    with client(_attributes(), version) as http:
        body = http.get(f"/data_attributes{query}").json()
    assert body["type"] == "list" and [a["name"] for a in body["data"]] == names
    custom = [a for a in body["data"] if a["custom"]]
    assert all(isinstance(a["id"], int) and "." in a["full_name"] for a in custom)
    assert all("id" not in a for a in body["data"] if not a["custom"])


def test_data_attributes_refuse_the_conversation_model_from_2_16() -> None:
    with client(_attributes(), "2.16") as http:
        response = http.get("/data_attributes", params={"model": "conversation"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "code": "parameter_invalid",
            "message": "model=conversation is no longer supported. "
            "Use GET /conversations/attributes instead",
        }
    ]


def test_conversation_attributes_list_from_2_16() -> None:
    fake = _attributes()
    with client(fake, "2.16") as http:
        listed = http.get("/conversations/attributes").json()
        every = http.get("/conversations/attributes", params={"include_archived": "true"}).json()
    with client(fake, "2.15") as http:
        old = http.get("/conversations/attributes")
    assert listed["type"] == "list" and [a["id"] for a in listed["data"]] == [3, 2]
    assert [a["id"] for a in every["data"]] == [3, 2, 6]
    tier = listed["data"][1]
    assert tier["type"] == "conversation_attribute" and tier["data_type"] == "list"
    assert [o["label"] for o in tier["options"]] == ["Gold", "Silver"]
    assert "multiline" in listed["data"][0] and "options" not in listed["data"][0]
    assert old.status_code == 400
    assert old.json()["errors"][0]["code"] == "intercom_version_invalid"
