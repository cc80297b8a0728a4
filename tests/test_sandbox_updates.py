"""The sandbox moves conversations forward in time: searched at their new time only, served
with the new state and assignees, through the control endpoint over a real socket."""

from typing import Any

import httpx

from intercom_enrichment.sandbox import SandboxConfig, SandboxServer

CONFIG = SandboxConfig(seed=5, conversations=48, contacts=20, rate_limit=0)
HOUR = 3600


def _search(http: httpx.Client, lo: int, hi: int) -> list[dict[str, Any]]:
    found, cursor = [], None
    for _ in range(50):  # bounded page loop
        pagination: dict[str, Any] = {"per_page": 150}
        if cursor:
            pagination["starting_after"] = cursor
        body = {
            "query": {
                "operator": "AND",
                "value": [
                    {"field": "updated_at", "operator": ">=", "value": lo},
                    {"field": "updated_at", "operator": "<", "value": hi},
                ],
            },
            "pagination": pagination,
        }
        page = http.post("/conversations/search", json=body).json()
        found += page["conversations"]
        cursor = (page["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            return found
    raise AssertionError("search did not end")


def test_a_conversation_moves_to_a_later_window_with_a_new_state() -> None:
    start = CONFIG.start_ts
    with (
        SandboxServer(CONFIG) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=10
        ) as http,
    ):
        first_hour = _search(http, start, start + HOUR)
        open_one = next(c for c in first_hour if c["state"] == "open")
        later = start + 5 * HOUR + 17
        answer = http.post(
            f"/sandbox/conversations/{open_one['id']}/update",
            json={
                "updated_at": later,
                "state": "closed",
                "admin_assignee_id": "991267605",
                "team_assignee_id": "5017693",
            },
        )
        assert answer.status_code == 200, answer.text
        assert open_one["id"] not in {c["id"] for c in _search(http, start, start + HOUR)}
        moved = [
            c
            for c in _search(http, start + 5 * HOUR, start + 6 * HOUR)
            if c["id"] == open_one["id"]
        ]
        assert len(moved) == 1
        assert moved[0]["updated_at"] == later
        assert (moved[0]["state"], moved[0]["open"]) == ("closed", False)
        assert moved[0]["admin_assignee_id"] == 991267605
        assert moved[0]["team_assignee_id"] == 5017693
        assert moved[0]["created_at"] == open_one["created_at"]
        full = http.get(f"/conversations/{open_one['id']}").json()
        assert full["updated_at"] == later
        assert full["conversation_parts"]["conversation_parts"][-1]["part_type"] == "close"
        # results stay in updated_at order across the whole day
        day = _search(http, start, CONFIG.end_ts)
        assert [c["updated_at"] for c in day] == sorted(c["updated_at"] for c in day)
        assert len(day) == len({c["id"] for c in day}) == CONFIG.conversations


def test_the_control_endpoint_refuses_bad_requests() -> None:
    with SandboxServer(CONFIG) as server:
        url = f"{server.url}/sandbox/conversations/100000001/update"
        auth = {"Authorization": f"Bearer {server.token}"}
        later = CONFIG.end_ts + HOUR
        assert httpx.post(url, json={"updated_at": later}).status_code == 401
        assert httpx.post(url, json={"updated_at": "soon"}, headers=auth).status_code == 400
        assert (
            httpx.post(url, json={"updated_at": CONFIG.start_ts}, headers=auth).status_code == 400
        )
        bad_admin = {"updated_at": later, "admin_assignee_id": "1"}
        assert httpx.post(url, json=bad_admin, headers=auth).status_code == 400
        bad_state = {"updated_at": later, "state": "deleted"}
        assert httpx.post(url, json=bad_state, headers=auth).status_code == 400
        gone = f"{server.url}/sandbox/conversations/999/update"
        assert httpx.post(gone, json={"updated_at": later}, headers=auth).status_code == 400
        unassign = {"updated_at": later, "admin_assignee_id": None}
        answer = httpx.post(url, json=unassign, headers=auth)
        assert answer.status_code == 200 and answer.json()["admin_assignee_id"] is None
