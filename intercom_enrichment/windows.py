"""Time windows: half-open ``[start, end)`` intervals in UTC, and the pure functions on them."""

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .errors import ConfigError
from .layout import window_key

FUTURE_TOLERANCE = timedelta(seconds=5)  # clock skew between the caller and this machine

_EVERY = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def as_utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC; a naive one is taken as UTC.

    Subclasses (Prefect's pendulum-backed ``DateTime``) are rebuilt as plain datetimes: their
    arithmetic can drop the zone.
    """
    v = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    """ISO 8601 (``2026-10-01``, ``2026-10-01T00:00:00Z``, with offset); naive means UTC."""
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ConfigError(f"not an ISO 8601 date or time: {text!r}") from None


def parse_every(text: str) -> timedelta:
    """``30m``, ``1h``, ``1d`` → timedelta."""
    match = _EVERY.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"not a window length like 30m, 1h or 1d: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True, order=True)
class Window:
    """``start <= updated_at < end``, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ConfigError("window bounds must be timezone-aware")
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise ConfigError(
                f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )

    @property
    def key(self) -> str:
        """File-name key from the bounds alone, e.g. ``20261001T000000Z_20261002T000000Z``
        (layout.py)."""
        return window_key(self.start, self.end)

    @property
    def label(self) -> str:
        """Short human label, e.g. ``2026-10-01T00→02T00``."""
        end = (
            self.end.strftime("%dT%H")
            if self.end.date() != self.start.date()
            else (self.end.strftime("T%H:%M"))
        )
        return f"{self.start.strftime('%Y-%m-%dT%H')}→{end}"

    def contains(self, unix_seconds: float) -> bool:
        return self.start.timestamp() <= unix_seconds < self.end.timestamp()

    def split(self, parts: int) -> list["Window"]:
        """``parts`` contiguous sub-windows covering this one exactly, cut on whole seconds."""
        start, end = self.start.timestamp(), self.end.timestamp()
        span = int(end - start)
        parts = max(1, min(parts, span))
        cuts = [start + (span * i) // parts for i in range(parts)] + [end]
        return [
            Window(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
            for a, b in itertools.pairwise(cuts)
            if b > a
        ]

    def dates(self) -> list[date]:
        """UTC dates this window touches."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def make_windows(start: datetime, end: datetime, every: timedelta) -> list[Window]:
    """Consecutive windows of length ``every`` from ``start``; the last one is cut at ``end``."""
    outer = Window(as_utc(start), as_utc(end))
    if every <= timedelta(0):
        raise ConfigError("window length must be positive")
    windows, cursor = [], outer.start
    while cursor < outer.end:
        nxt = min(cursor + every, outer.end)
        windows.append(Window(cursor, nxt))
        cursor = nxt
    return windows


def scheduled_window(
    scheduled: datetime, every: timedelta, lag: timedelta = timedelta(0)
) -> Window:
    """The interval a scheduled run processes: the ``every`` that ends at its slot minus ``lag``.

    Derived from the schedule slot, never from "now", so a rerun processes the same window.
    """
    end = as_utc(scheduled) - lag
    return Window(end - every, end)


def resolve_window(
    start: datetime | None,
    end: datetime | None,
    *,
    every: timedelta,
    lag: timedelta,
    scheduled: datetime,
    now: datetime,
) -> Window:
    """The window a run processes: explicit bounds, or the one its schedule slot implies.

    Rejects half-given bounds and windows that end in the future (their data is not final).
    """
    if (start is None) != (end is None):
        raise ConfigError("give both start and end, or neither (then the schedule decides)")
    if start is not None and end is not None:
        window = Window(as_utc(start), as_utc(end))
    else:
        window = scheduled_window(scheduled, every, lag)
    check_not_future(window.end, now)
    return window


def check_not_future(end: datetime, now: datetime, *, what: str = "window end") -> None:
    """The one rule for "too recent": data that ends in the future is not final yet."""
    if as_utc(end) > as_utc(now) + FUTURE_TOLERANCE:
        raise ConfigError(f"{what} {as_utc(end).isoformat()} is in the future")
