"""Tickets in current/ and marts/: the same rules as conversations (latest row, names, months,
parts of the latest fetched version, stale windows), and ticket_daily counted by hand — each
checked against ``refresh --full`` of the same window files."""

from pathlib import Path

import pytest

from intercom_enrichment.marts import refresh

from .marts_fixtures import (
    at,
    full_rebuild,
    hour_window,
    read,
    rows_of,
    ticket,
    write_dimensions,
    write_window,
)


def tickets_of(root: Path) -> dict[str, dict]:
    return {r["ticket_id"]: r for r in read(root / "current" / "tickets")}


def assert_equals_rebuild(out: Path, scratch: Path) -> None:
    assert rows_of(out) == full_rebuild(out, scratch)


def test_a_ticket_updated_across_windows_is_current_once_with_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_dimensions(out)
    write_window(str(out), hour_window(0, 1), [], tickets=[ticket("t1", -0.5, 0.5)])
    refresh(str(out))
    write_window(
        str(out),
        hour_window(1, 2),
        [],
        tickets=[ticket("t1", -0.5, 1.5, admin_assignee_id="11", team_assignee_id="22")],
    )
    refresh(str(out))
    rows = tickets_of(out)
    assert list(rows) == ["t1"]
    assert rows["t1"]["updated_at"] == at(1.5)
    assert (rows["t1"]["admin_assignee_name"], rows["t1"]["team_assignee_name"]) == (
        "Aoife Byrne",
        "Billing",
    )
    assert_equals_rebuild(out, tmp_path)


def test_ticket_names_follow_a_new_snapshot_in_every_month(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_window(
        str(out),
        hour_window(0, 1),
        [],
        tickets=[ticket("t1", -24 * 40, 0.5, admin_assignee_id="11"), ticket("t2", 0, 0.5)],
    )
    refresh(str(out))
    assert tickets_of(out)["t1"]["admin_assignee_name"] is None  # no snapshot yet
    write_dimensions(out)
    refresh(str(out))
    assert tickets_of(out)["t1"]["admin_assignee_name"] == "Aoife Byrne"
    assert_equals_rebuild(out, tmp_path)


def test_a_ticket_that_changes_month_moves_with_its_parts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    part = {"ticket_id": "t1", "part_id": "p1", "created_at": at(0.2), "ticket_state": "resolved"}
    write_window(
        str(out), hour_window(0, 1), [], tickets=[ticket("t1", 0, 0.5)], ticket_parts=[part]
    )
    refresh(str(out))
    assert (out / "current/ticket_parts/created_month=2026-10").exists()
    # a hostile server says the ticket was created in August now; no parts this time
    write_window(str(out), hour_window(1, 2), [], tickets=[ticket("t1", -24 * 50, 1.5)])
    refresh(str(out))
    assert tickets_of(out)["t1"]["created_month"] == "2026-08"
    assert [p["created_month"] for p in read(out / "current/ticket_parts")] == ["2026-08"]
    assert_equals_rebuild(out, tmp_path)


def test_a_rerun_without_tickets_takes_its_tickets_out_of_current(tmp_path: Path) -> None:
    out = tmp_path / "out"
    window = hour_window(0, 1)
    write_window(str(out), window, [], tickets=[ticket("t1", 0, 0.5), ticket("t2", 0, 0.5)])
    write_window(str(out), hour_window(1, 2), [], tickets=[ticket("t2", 0, 1.5)])
    refresh(str(out))
    assert set(tickets_of(out)) == {"t1", "t2"}
    write_window(str(out), window, [])  # rerun with --no-tickets: its ticket files go
    refresh(str(out))
    rows = tickets_of(out)
    assert set(rows) == {"t2"} and rows["t2"]["updated_at"] == at(1.5)
    assert_equals_rebuild(out, tmp_path)


def test_ticket_daily_equals_counts_made_by_hand(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tickets = [
        ticket("a", 1, 2.5, ticket_state_category="resolved", open=False,
               first_resolved_at=at(2)),  # 1 h
        ticket("b", 1, 2.5, ticket_state_category="resolved", open=False,
               first_resolved_at=at(4)),  # 3 h
        ticket("c", 1, 2.5, open=True),  # open, no resolution shown
        ticket("d", 1, 2.5, ticket_type_id="103", ticket_type_name="Account review",
               first_resolved_at=at(1.5)),  # reopened since: not resolved now
        ticket("e", 30, 30.5, ticket_state_category="resolved", open=False),  # next day
    ]  # fmt: skip
    write_window(str(out), hour_window(0, 40), [], tickets=tickets)
    refresh(str(out))
    daily = read(out / "marts" / "ticket_daily.parquet")
    by_key = {(str(r["day"]), r["ticket_type_id"]): r for r in daily}
    bug = by_key[("2026-10-01", "101")]
    assert (bug["tickets_created"], bug["tickets_resolved"], bug["tickets_open"]) == (3, 2, 1)
    assert bug["median_time_to_resolution"] == pytest.approx(2 * 3600)  # median of 1 h, 3 h
    review = by_key[("2026-10-01", "103")]
    assert (review["tickets_created"], review["tickets_resolved"]) == (1, 0)
    assert review["median_time_to_resolution"] == pytest.approx(1800)
    later = by_key[("2026-10-02", "101")]
    assert later["tickets_created"] == 1 and later["median_time_to_resolution"] is None
