"""``intercom-enrich refresh`` and ``report`` from the command line: the table, and bad input
as one line on stderr with exit 2."""

from pathlib import Path

from .marts_fixtures import conversation, hour_window, write_window
from .test_cli import cli, one_line_error


def test_refresh_then_report_prints_the_support_table(tmp_path: Path) -> None:
    out = str(tmp_path)
    write_window(
        out,
        hour_window(0, 1),
        [
            conversation("1", 0, 0.5, state="closed", time_to_admin_reply=600),
            conversation("2", 0.2, 0.6, time_to_admin_reply=1800),
        ],
    )
    refreshed = cli("refresh", "--output", out)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "1 windows folded" in refreshed.stdout
    again = cli("refresh", "--output", out)
    assert "0 windows folded" in again.stdout
    report = cli("report", "--output", out, "--days", "14")
    assert report.returncode == 0, report.stderr
    header, row = report.stdout.strip().splitlines()
    assert header.split()[:3] == ["day", "created", "closed"]
    assert row.split()[:5] == ["2026-10-01", "2", "1", "20", "min"]  # median of 10 and 30 min
    full = cli("refresh", "--output", out, "--full")
    assert full.returncode == 0 and "1 windows folded" in full.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    one_line_error(cli("refresh", "--output", str(tmp_path / "none")), 2, "holds no runs")
    one_line_error(cli("report", "--output", str(tmp_path / "none")), 2, "holds no runs")
    write_window(str(tmp_path), hour_window(0, 1), [conversation("1", 0, 0.5)])
    bad = cli("refresh", "--output", str(tmp_path), "--memory-limit", "lots")
    one_line_error(bad, 2, "memory limit")
    assert not (tmp_path / "current" / "conversations").exists()
    empty = cli("report", "--output", str(tmp_path))
    assert empty.returncode == 0 and "run intercom-enrich refresh first" in empty.stdout
