"""The recent days of ``marts/support_daily`` as a table: in the terminal and in run artifacts."""

from datetime import date, timedelta
from typing import Any

import pyarrow.parquet as pq

from intercom_enrichment.layout import mart_path
from intercom_enrichment.output.storage import Storage

SUPPORT_DAILY = mart_path("support_daily")
BAR_WIDTH = 20
COLUMNS = (  # (column, header)
    ("day", "day"),
    ("conversations_created", "created"),
    ("conversations_closed", "closed"),
    ("median_time_to_admin_reply", "median reply"),
    ("p90_time_to_admin_reply", "p90 reply"),
    ("median_time_to_first_close", "median close"),
    ("reopened", "reopened"),
    ("rated", "rated"),
    ("mean_rating", "rating"),
    ("ai_agent_share", "AI share"),
    ("fin_resolution_rate", "Fin resolved"),
)


def support_daily_rows(output: str, days: int = 14) -> list[dict[str, Any]]:
    """Rows of support_daily for the ``days`` days up to the latest day it holds, oldest first
    (empty when there is no mart yet)."""
    storage = Storage(output)
    try:
        with storage.fs.open(storage.path(SUPPORT_DAILY), "rb") as fh:
            # One small file, read without Arrow's thread pool: with it, `intercom-enrich report`
            # aborted at exit ("terminate called without an active exception") in 2 of 25
            # runs on a loaded machine, and in 0 of 25 without.
            rows = pq.read_table(fh, use_threads=False, pre_buffer=False).to_pylist()
    except FileNotFoundError:
        return []
    if not rows:
        return []
    last: date = max(r["day"] for r in rows)
    first = last - timedelta(days=max(days, 1) - 1)
    return sorted((r for r in rows if r["day"] >= first), key=lambda r: r["day"])


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column.startswith(("median_", "p90_")):
        return _duration(float(value))
    if column == "mean_rating":
        return f"{value:.2f}"
    if column in ("ai_agent_share", "fin_resolution_rate"):
        return f"{100 * value:.0f}%"
    return str(value)


def _bar(value: int, largest: int) -> str:
    return "█" * max(1, round(BAR_WIDTH * value / largest)) if value and largest else ""


def table_lines(rows: list[dict[str, Any]], *, markdown: bool) -> list[str]:
    """The rows as a table, with a bar of conversations created per day (the chart)."""
    headers = [h for _, h in COLUMNS] + ["volume"]
    largest = max((r["conversations_created"] for r in rows), default=0)
    body = [
        [_cell(c, r.get(c)) for c, _ in COLUMNS] + [_bar(r["conversations_created"], largest)]
        for r in rows
    ]
    if markdown:
        right = "|".join(
            "---" if i in (0, len(headers) - 1) else "---:" for i in range(len(headers))
        )
        return [
            "| " + " | ".join(headers) + " |",
            f"|{right}|",
            *("| " + " | ".join(line) + " |" for line in body),
        ]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]
    fmt = "  ".join(
        f"{{:{'<' if i in (0, len(headers) - 1) else '>'}{w}}}" for i, w in enumerate(widths)
    )
    return [fmt.format(*headers).rstrip(), *(fmt.format(*line).rstrip() for line in body)]


def support_daily_markdown(output: str, days: int = 14) -> str:
    """A markdown section for a run's artifact."""
    rows = support_daily_rows(output, days)
    title = f"# Support, last {days} days (by day created, current state)"
    if not rows:
        return f"{title}\n\nNo `marts/support_daily` yet.\n"
    return "\n".join([title, "", *table_lines(rows, markdown=True), ""])


def report(output: str, days: int = 14) -> str:
    """The terminal table of ``intercom-enrich report``."""
    rows = support_daily_rows(output, days)
    if not rows:
        return f"no marts/support_daily under {output} yet: run intercom-enrich refresh first"
    return "\n".join(table_lines(rows, markdown=False))
