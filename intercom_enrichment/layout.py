"""The output's layout, in one place: every path a run or a refresh writes, and the window key.

    <output>/<table>/updated_date=YYYY-MM-DD/<window-key>.parquet   window files
    <output>/dimensions/<name>.parquet                               whole snapshots
    <output>/_runs/<window-key>.json                                 a window's manifest
    <output>/_runs/<window-key>.lease                                its writer's lease
    <output>/_quarantine/<window-key>.jsonl                          records not written
    <output>/current/…, <output>/marts/…                             derived state (a refresh)

The window key is derived from the window's bounds alone (``20261001T000000Z_20261002T000000Z``),
so a rerun of a window replaces its files; ``parse_window_key`` is its inverse. Everything that
names one of these paths or reads one of these keys asks this module (docs/data-contract.md).
"""

import re
from datetime import UTC, date, datetime
from typing import Protocol


class Window(Protocol):
    """What paths need of a window (``windows.Window``): its key."""

    @property
    def key(self) -> str: ...


KEY_FORMAT = "%Y%m%dT%H%M%SZ"
WINDOW_KEY = re.compile(r"^[0-9]{8}T[0-9]{6}Z_[0-9]{8}T[0-9]{6}Z$")
MANIFEST_DIR = "_runs"
QUARANTINE_DIR = "_quarantine"
DIMENSIONS_DIR = "dimensions"
CURRENT_DIR = "current"
MARTS_DIR = "marts"
PARTITION = "updated_date"  # the Hive partition of window files
REFRESH_STATE = f"{CURRENT_DIR}/_refresh.json"
REFRESH_LEASE = f"{CURRENT_DIR}/_refresh.lease"


def window_key(start: datetime, end: datetime) -> str:
    """The key of the window ``[start, end)`` (UTC bounds): ``windows.Window.key``."""
    return f"{start.strftime(KEY_FORMAT)}_{end.strftime(KEY_FORMAT)}"


def parse_window_key(key: str) -> tuple[datetime, datetime] | None:
    """The bounds a key names, or None when ``key`` is not a window key."""
    if not WINDOW_KEY.match(key):
        return None
    first, last = key.split("_")
    try:
        start = datetime.strptime(first, KEY_FORMAT).replace(tzinfo=UTC)
        end = datetime.strptime(last, KEY_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # e.g. month 13
        return None
    return (start, end) if end > start else None


def manifest_path(window: Window) -> str:
    return f"{MANIFEST_DIR}/{window.key}.json"


def lease_path(window: Window) -> str:
    return f"{MANIFEST_DIR}/{window.key}.lease"


def quarantine_path(window: Window) -> str:
    return f"{QUARANTINE_DIR}/{window.key}.jsonl"


def data_path(window: Window, table: str, day: date) -> str:
    return f"{table}/{PARTITION}={day.isoformat()}/{window.key}.parquet"


def window_file_pattern(tables: tuple[str, ...]) -> re.Pattern[str]:
    """A window file of one of ``tables``, with its table and key as groups 1 and 2."""
    names = "|".join(re.escape(t) for t in tables)
    return re.compile(
        rf"^({names})/{PARTITION}=[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}/"
        r"([0-9]{8}T[0-9]{6}Z_[0-9]{8}T[0-9]{6}Z)\.parquet$"
    )


def dimension_path(name: str) -> str:
    return f"{DIMENSIONS_DIR}/{name}.parquet"


def mart_path(name: str) -> str:
    return f"{MARTS_DIR}/{name}.parquet"


def current_partition(table: str, month: str) -> str:
    """A month's file of a partitioned current table (``current/<table>/created_month=…``)."""
    return f"{CURRENT_DIR}/{table}/created_month={month}/data.parquet"


def current_partitions_glob(table: str) -> str:
    return f"{CURRENT_DIR}/{table}/created_month=*/*.parquet"


def current_file(table: str) -> str:
    return f"{CURRENT_DIR}/{table}.parquet"
