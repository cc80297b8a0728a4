import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intercom_enrichment.errors import ConfigError
from intercom_enrichment.windows import (
    Window,
    make_windows,
    parse_every,
    parse_instant,
    resolve_window,
    scheduled_window,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def test_key_and_half_open_bounds() -> None:
    w = Window(T0, T0 + timedelta(days=1))
    assert w.key == "20261001T000000Z_20261002T000000Z"
    assert w.contains(T0.timestamp())
    assert not w.contains((T0 + timedelta(days=1)).timestamp())
    assert w.dates() == [T0.date()]


def test_naive_input_is_utc_and_offsets_are_converted() -> None:
    assert parse_instant("2026-10-01T00:00:00") == T0
    assert parse_instant("2026-10-01T02:00:00+02:00") == T0
    assert parse_instant("2026-10-01") == T0
    with pytest.raises(ConfigError, match="ISO 8601"):
        parse_instant("yesterday")


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ConfigError, match="not after"):
        Window(T0, T0)
    with pytest.raises(ConfigError, match="length"):
        parse_every("0h")
    now = T0 + timedelta(hours=1)
    with pytest.raises(ConfigError, match="future"):
        resolve_window(
            T0,
            T0 + timedelta(days=1),
            every=timedelta(hours=1),
            lag=timedelta(0),
            scheduled=now,
            now=now,
        )
    with pytest.raises(ConfigError, match="both"):
        resolve_window(T0, None, every=timedelta(hours=1), lag=timedelta(0), scheduled=now, now=now)


def test_scheduled_window_depends_on_the_slot_not_on_now() -> None:
    slot = datetime(2026, 10, 1, 5, tzinfo=UTC)
    expected = Window(slot - timedelta(hours=1, minutes=10), slot - timedelta(minutes=10))
    for now in (slot, slot + timedelta(hours=7)):
        got = resolve_window(
            None, None, every=timedelta(hours=1), lag=timedelta(minutes=10), scheduled=slot, now=now
        )
        assert got == expected == scheduled_window(slot, timedelta(hours=1), timedelta(minutes=10))


def test_make_windows_cuts_the_last_window() -> None:
    windows = make_windows(T0, T0 + timedelta(hours=2, minutes=30), timedelta(hours=1))
    assert [w.end - w.start for w in windows] == [timedelta(hours=1)] * 2 + [timedelta(minutes=30)]
    assert windows[0].start == T0 and windows[-1].end == T0 + timedelta(hours=2, minutes=30)


@given(
    start=st.integers(min_value=1_600_000_000, max_value=1_900_000_000),
    span=st.integers(min_value=1, max_value=10 * 86_400),
    parts=st.integers(min_value=1, max_value=64),
)
def test_split_covers_the_window_exactly(start: int, span: int, parts: int) -> None:
    outer = Window(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + span, UTC))
    subs = outer.split(parts)
    assert subs[0].start == outer.start and subs[-1].end == outer.end
    assert all(a.end == b.start for a, b in itertools.pairwise(subs))
    assert len(subs) == min(parts, span)
    for ts in (start, start + span // 2, start + span - 1):  # each second owned by one sub-window
        assert sum(s.contains(ts) for s in subs) == 1
