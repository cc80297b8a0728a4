"""current/ and marts/: the latest row per id across windows, names from the dimension
snapshots, support_daily against counts made by hand, and refreshes that stay exact whatever
the order windows are folded in, reruns, or full rebuilds."""

import os
from pathlib import Path
from typing import Any

import pytest

from intercom_enrichment.marts import refresh, report, support_daily_markdown
from intercom_enrichment.marts.sources import STATE_PATH

from .marts_fixtures import (
    at,
    contact,
    conversation,
    full_rebuild,
    hour_window,
    part,
    read,
    rows_of,
    write_dimensions,
    write_window,
)

LINEAGE = ("window_start", "window_end", "extracted_at")


def current(root: Path, table: str = "conversations") -> dict[str, dict[str, Any]]:
    """Rows of a current/ table by id; fails on a duplicate id."""
    key = {"conversations": "conversation_id", "contacts": "contact_id"}.get(table, "part_id")
    path = root / "current" / (f"{table}.parquet" if table == "contacts" else table)
    rows = read(path)
    ids = [r[key] for r in rows]
    assert len(ids) == len(set(ids)), f"duplicate ids in current/{table}"
    return {r[key]: r for r in rows}


def mart(root: Path, name: str) -> list[dict[str, Any]]:
    return read(root / "marts" / f"{name}.parquet")


def without_lineage(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {c: v for c, v in r.items() if c not in LINEAGE} for k, r in rows.items()}


def test_a_conversation_updated_across_windows_is_current_once_with_names(tmp_path: Path) -> None:
    out = str(tmp_path)
    write_dimensions(tmp_path)
    write_window(
        out,
        hour_window(0, 1),
        [
            conversation("1", 0.0, 0.5, admin_assignee_id="11", team_assignee_id="21"),
            conversation("2", 0.1, 0.6, admin_assignee_id="99"),  # unknown admin
            conversation("3", 0.2, 0.7),
        ],
        contacts=[contact("c1", 0.5, name="Ada")],
    )
    first = refresh(out)
    assert first.windows_folded == 1 and first.months == ["2026-10"]
    before = current(tmp_path)
    assert before["1"]["state"] == "open"
    assert (before["1"]["admin_assignee_name"], before["1"]["team_assignee_name"]) == (
        "Aoife Byrne",
        "Tier 1",
    )
    assert before["2"]["admin_assignee_name"] is None  # unknown id: null, row kept
    assert before["3"]["admin_assignee_name"] is None  # unassigned

    write_window(
        out,
        hour_window(1, 2),
        [
            conversation(
                "1",
                0.0,
                1.5,
                state="closed",
                open=False,
                admin_assignee_id="12",
                team_assignee_id="22",
            ),
        ],
        contacts=[contact("c1", 1.5, name="Ada L.")],
    )
    second = refresh(out)
    assert second.windows_folded == 1  # only the new window
    now = current(tmp_path)
    assert set(now) == {"1", "2", "3"}
    one = now["1"]
    assert (one["state"], one["open"], one["updated_at"]) == ("closed", False, at(1.5))
    assert (one["admin_assignee_id"], one["admin_assignee_name"]) == ("12", "Bruno Costa")
    assert (one["team_assignee_id"], one["team_assignee_name"]) == ("22", "Billing")
    assert one["window_start"] == at(1)
    assert current(tmp_path, "contacts")["c1"]["name"] == "Ada L."
    admin_daily = {r["admin_assignee_id"]: r for r in read(tmp_path / "marts/admin_daily.parquet")}
    assert admin_daily["12"]["admin_assignee_name"] == "Bruno Costa"
    assert admin_daily["12"]["conversations_closed"] == 1
    assert "11" not in admin_daily  # its only conversation was reassigned
    assert refresh(out).windows_folded == 0  # nothing new: nothing done


def _support_fixture(out: str) -> None:
    """Eight conversations created on two days; values chosen to count by hand."""
    day1 = [  # created 2026-10-01
        conversation(
            "a",
            1,
            2,
            state="closed",
            time_to_admin_reply=60,
            time_to_first_close=600,
            count_reopens=0,
            rating=5,
            ai_agent_participated=True,
            admin_assignee_id="11",
            tag_names=["Bug", "VIP"],
        ),
        conversation(
            "b",
            2,
            3,
            state="closed",
            time_to_admin_reply=120,
            time_to_first_close=1200,
            count_reopens=2,
            rating=3,
            ai_agent_participated=False,
            admin_assignee_id="11",
            tag_names=["Bug"],
        ),
        conversation(
            "c",
            3,
            4,
            state="open",
            time_to_admin_reply=300,
            count_reopens=1,
            admin_assignee_id="12",
        ),
        conversation(
            "d", 4, 5, state="snoozed", time_to_admin_reply=None, ai_agent_participated=True
        ),
        conversation(
            "e",
            5,
            6,
            state="closed",
            time_to_admin_reply=1000,
            time_to_first_close=30,
            rating=1,
            team_assignee_id="21",
            tag_names=["VIP", "VIP"],
        ),
    ]
    day2 = [  # created 2026-10-02
        conversation("f", 25, 26, state="open", time_to_admin_reply=10, team_assignee_id="22"),
        conversation(
            "g",
            26,
            27,
            state="closed",
            time_to_admin_reply=20,
            time_to_first_close=100,
            rating=4,
            count_reopens=0,
            ai_agent_participated=True,
        ),
        conversation("h", 27, 28, state="open", time_to_admin_reply=30),
    ]
    write_window(out, hour_window(0, 24), day1)
    write_window(out, hour_window(24, 48), day2)


def test_support_daily_equals_counts_made_by_hand(tmp_path: Path) -> None:
    out = str(tmp_path)
    _support_fixture(out)
    # "c" is closed later (its first window keeps the open row; current must not).
    write_window(
        out,
        hour_window(48, 49),
        [
            conversation(
                "c",
                3,
                48.5,
                state="closed",
                time_to_admin_reply=300,
                time_to_first_close=7200,
                count_reopens=1,
                admin_assignee_id="12",
            ),
        ],
    )
    refresh(out)
    days = {str(r["day"]): r for r in read(tmp_path / "marts/support_daily.parquet")}
    assert set(days) == {"2026-10-01", "2026-10-02"}
    one, two = days["2026-10-01"], days["2026-10-02"]
    assert one["conversations_created"] == 5
    assert one["conversations_closed"] == 4  # a, b, c (closed later), e
    assert one["median_time_to_admin_reply"] == pytest.approx(210.0)  # 60 120 300 1000
    assert one["p90_time_to_admin_reply"] == pytest.approx(790.0)  # 300 + 0.7 × 700
    assert one["median_time_to_first_close"] == pytest.approx(900.0)  # 30 600 1200 7200
    assert one["reopened"] == 2  # b, c
    assert (one["rated"], one["mean_rating"]) == (3, pytest.approx(3.0))  # 5 3 1
    assert one["ai_agent_share"] == pytest.approx(2 / 5)  # a, d
    assert two["conversations_created"] == 3 and two["conversations_closed"] == 1
    assert two["median_time_to_admin_reply"] == pytest.approx(20.0)
    assert two["p90_time_to_admin_reply"] == pytest.approx(28.0)
    assert two["median_time_to_first_close"] == pytest.approx(100.0)
    assert (two["reopened"], two["rated"], two["mean_rating"]) == (0, 1, pytest.approx(4.0))
    assert two["ai_agent_share"] == pytest.approx(1 / 3)

    tags = {(str(r["day"]), r["tag_name"]): r for r in read(tmp_path / "marts/tag_daily.parquet")}
    assert set(tags) == {("2026-10-01", "Bug"), ("2026-10-01", "VIP")}
    assert tags[("2026-10-01", "VIP")]["conversations"] == 2  # a and e (e tagged twice: once)
    assert tags[("2026-10-01", "Bug")]["median_time_to_admin_reply"] == pytest.approx(90.0)
    teams = {(str(r["day"]), r["team_assignee_id"]): r for r in mart(tmp_path, "team_daily")}
    assert teams[("2026-10-01", None)]["conversations"] == 4
    assert teams[("2026-10-01", "21")]["conversations"] == 1
    assert teams[("2026-10-01", "21")]["team_assignee_name"] is None  # no dimension snapshot
    admins = {(str(r["day"]), r["admin_assignee_id"]): r for r in mart(tmp_path, "admin_daily")}
    assert admins[("2026-10-01", "11")]["conversations"] == 2
    assert admins[("2026-10-01", "11")]["mean_rating"] == pytest.approx(4.0)
    assert admins[("2026-10-01", "12")]["median_time_to_first_close"] == pytest.approx(7200.0)

    lines = report(out, days=1).splitlines()
    assert len(lines) == 2 and lines[1].startswith("2026-10-02")
    assert "| 2026-10-01 | 5 | 4 | 4 min |" in support_daily_markdown(out, 14)


def test_refresh_is_exact_whatever_the_order_reruns_and_rebuilds(tmp_path: Path) -> None:
    windows = [
        (hour_window(0, 1), [conversation("1", 0, 0.5), conversation("2", 0.2, 0.9)]),
        (hour_window(1, 2), [conversation("1", 0, 1.2, state="closed")]),
        (
            hour_window(2, 3),
            [conversation("2", 0.2, 2.5, state="snoozed"), conversation("3", 2.1, 2.2)],
        ),
    ]
    # Reference: every window, then one refresh.
    ref = tmp_path / "ref"
    for window, rows in windows:
        write_window(str(ref), window, rows)
    refresh(str(ref))
    expected = without_lineage(current(ref))
    assert expected["1"]["state"] == "closed" and expected["2"]["state"] == "snoozed"

    # Newest window first, a refresh after each, then the older ones: same rows.
    out = tmp_path / "out"
    for window, rows in reversed(windows):
        write_window(str(out), window, rows)
        refresh(str(out))
    assert without_lineage(current(out)) == expected

    # A rerun of the first window (later extracted_at) replaces its own rows only.
    write_window(str(out), windows[0][0], [conversation("1", 0, 0.5), conversation("4", 0.3, 0.4)])
    assert refresh(str(out)).windows_folded == 1
    rerun = without_lineage(current(out))
    assert rerun["1"]["state"] == "closed"  # the later window's row still wins
    assert set(rerun) == {"1", "2", "3", "4"}

    # The state lost (or a refresh killed before writing it): folding everything again is
    # harmless; --full rebuilds from the windows and agrees.
    os.remove(out / STATE_PATH)
    assert refresh(str(out)).windows_folded == 3
    assert without_lineage(current(out)) == rerun
    full = refresh(str(out), full=True)
    assert full.full and full.windows_folded == 3
    assert without_lineage(current(out)) == rerun
    assert not list(out.rglob("*.tmp"))


def test_a_refresh_in_chunks_of_ids_gives_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``chunk_rows`` (a run's own refresh), current_conversations is computed one chunk
    of ids at a time: every version of an id meets its rivals in its chunk, so the rows and
    marts are those of one pass."""
    from intercom_enrichment.marts import runner, staging

    used: list[int] = []
    partitioned = staging.Stager.partitioned

    def spied(self: staging.Stager, query: str, name: str, chunks: int = 1) -> dict[str, str]:
        if name == "conversations":
            used.append(chunks)
        return partitioned(self, query, name, chunks)

    monkeypatch.setattr(staging.Stager, "partitioned", spied)
    out = str(tmp_path)
    write_dimensions(tmp_path)
    write_window(out, hour_window(0, 1), [conversation(str(i), i / 10, 0.5) for i in range(9)])
    write_window(
        out, hour_window(1, 2), [conversation(str(i), i / 10, 1.5, state="closed") for i in (2, 7)]
    )
    write_window(out, hour_window(2, 3), [conversation("9", 2.1, 2.2)])
    refresh(out)
    assert used == [1]  # one pass by default
    expected = current(tmp_path), mart(tmp_path, "support_daily"), mart(tmp_path, "admin_daily")
    assert {k for k, r in expected[0].items() if r["state"] == "closed"} == {"2", "7"}

    assert refresh(out, full=True, chunk_rows=1).conversations == 10
    assert used[1] == runner.MAX_CHUNKS  # 12 candidate rows, a chunk each, at most 8
    again = current(tmp_path), mart(tmp_path, "support_daily"), mart(tmp_path, "admin_daily")
    assert again == expected


def test_only_the_touched_months_are_rewritten(tmp_path: Path) -> None:
    out = str(tmp_path)
    write_window(out, hour_window(0, 1), [conversation("sep", -240, 0.5)])  # created in Sept
    write_window(out, hour_window(1, 2), [conversation("oct", 1, 1.5)])
    refresh(out)
    sept = tmp_path / "current/conversations/created_month=2026-09/data.parquet"
    before = sept.stat().st_ino
    write_window(out, hour_window(2, 3), [conversation("oct", 1, 2.5, state="closed")])
    result = refresh(out)
    assert result.months == ["2026-10"]
    assert sept.stat().st_ino == before  # September's partition was not rewritten
    days = {str(r["day"]): r for r in read(tmp_path / "marts/support_daily.parquet")}
    assert days["2026-09-21"]["conversations_created"] == 1  # kept from the earlier refresh
    assert days["2026-10-01"]["conversations_closed"] == 1


def test_names_follow_the_dimension_snapshots_when_they_appear(tmp_path: Path) -> None:
    out = str(tmp_path)
    write_window(out, hour_window(0, 1), [conversation("1", 0, 0.5, admin_assignee_id="12")])
    refresh(out)
    assert current(tmp_path)["1"]["admin_assignee_name"] is None  # no snapshot yet
    write_dimensions(tmp_path)
    result = refresh(out)  # no new window, but new names
    assert result.windows_folded == 0 and result.months == ["2026-10"]
    assert current(tmp_path)["1"]["admin_assignee_name"] == "Bruno Costa"


def test_incomplete_windows_count_and_a_rerun_replaces_their_rows(tmp_path: Path) -> None:
    out = str(tmp_path)
    failed = conversation("1", 0, 0.5, enrichment_status="failed")
    write_window(out, hour_window(0, 1), [failed], complete=False)
    refresh(out)
    assert current(tmp_path)["1"]["enrichment_status"] == "failed"
    write_window(out, hour_window(0, 1), [conversation("1", 0, 0.5, contact_email="a@x.io")])
    refresh(out)
    row = current(tmp_path)["1"]
    assert (row["enrichment_status"], row["contact_email"]) == ("enriched", "a@x.io")


def test_parts_are_those_of_the_latest_fetched_version(tmp_path: Path) -> None:
    out = str(tmp_path)
    first = [conversation("1", 0, 0.5), conversation("2", 0, 0.6)]
    parts = [part("1", "p1", 0.1), part("1", "p2", 0.4), part("2", "q1", 0.2)]
    write_window(out, hour_window(0, 1), first, parts=parts)
    refresh(out)
    write_window(
        out,
        hour_window(1, 2),
        [conversation("1", 0, 1.5, state="closed")],
        parts=[part("1", "p1", 0.1), part("1", "p3", 1.4, part_type="close")],
    )
    write_window(out, hour_window(2, 3), [conversation("2", 0, 2.5)])  # run without parts
    refresh(out)
    now = current(tmp_path, "conversation_parts")
    assert set(now) == {"p1", "p3", "q1"}  # p2 is gone from conversation 1's latest version
    assert now["p3"]["conversation_updated_at"] == at(1.5)
    assert now["q1"]["conversation_updated_at"] == at(0.6)  # latest version that had parts


def test_a_first_refresh_of_only_an_empty_window_succeeds(tmp_path: Path) -> None:
    """An empty window (a quiet hour) with a first dimension snapshot: nothing to fold, but the
    refresh must not fail (found by benchmarks/overhead.py: DuckDB refused an empty month list)."""
    out = str(tmp_path)
    write_window(out, hour_window(0, 1), [])
    write_dimensions(tmp_path)
    result = refresh(out)
    assert result.windows_folded == 1 and result.months == [] and result.conversations == 0
    assert mart(tmp_path, "support_daily") == []
    assert refresh(out).windows_folded == 0


def test_a_rerun_with_fewer_tables_and_a_stricter_policy_leaves_nothing_of_the_old_run(
    tmp_path: Path,
) -> None:
    """Issue 19: three windows run with parts, then the first rerun without parts and with
    hashed names. Its earlier parts (clear text) must leave current/, as a full rebuild of the
    same window files has them gone; so must its earlier contact row."""
    out = tmp_path / "out"
    for hour in range(3):
        ids = [f"{hour}{k}" for k in range(3)]
        write_window(
            str(out),
            hour_window(hour, hour + 1),
            [conversation(c, hour, hour + 0.5, contact_name="Ada Lovelace") for c in ids],
            contacts=[contact(f"c{hour}", hour + 0.5, name="Ada Lovelace")],
            parts=[part(c, f"{c}-p", hour + 0.2, body="my card is 4242") for c in ids],
        )
        refresh(str(out))
    write_window(
        str(out),
        hour_window(0, 1),
        [conversation(f"0{k}", 0, 0.5, contact_name="h(Ada)") for k in range(3)],
        contacts=[contact("c0", 0.5, name="h(Ada)")],
    )  # the rerun: no parts, hashed
    result = refresh(str(out))
    assert result.stale_windows == 1
    parts = current(out, "conversation_parts")
    assert sorted(parts) == ["10-p", "11-p", "12-p", "20-p", "21-p", "22-p"]
    assert current(out, "contacts")["c0"]["name"] == "h(Ada)"
    assert {r["contact_name"] for i, r in current(out).items() if i.startswith("0")} == {"h(Ada)"}
    assert rows_of(out) == full_rebuild(out, tmp_path)
