"""One writer of current/ and marts/ on every store: a refresh takes the lease
``current/_refresh.lease`` (the lease of windows, a second user), so two refreshes of one output
never overlap — on local disk and on the S3 server of the tests — and a refresh that cannot get
the lease in time says which run holds it, in one line."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intercom_enrichment.layout import REFRESH_LEASE
from intercom_enrichment.marts import refresh, runner
from intercom_enrichment.marts.runner import RefreshBusy, RefreshLease
from intercom_enrichment.output.storage import Storage

from .marts_fixtures import conversation, full_rebuild, hour_window, rows_of, write_window


@pytest.fixture
def slow_refreshes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[float, float]]]:
    """Each refresh's work (inside its lease) takes at least 1 s; yields the (start, end) of
    each, so a test can tell whether two of them overlapped."""
    spans: list[tuple[float, float]] = []
    original = runner._Refresh.run

    def run(self: runner._Refresh) -> runner.RefreshResult:
        began = time.monotonic()
        time.sleep(1.0)
        try:
            return original(self)
        finally:
            spans.append((began, time.monotonic()))

    monkeypatch.setattr(runner._Refresh, "run", run)
    yield spans


def _two_at_once(output: str) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        barrier.wait()
        try:
            refresh(output)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def _windows(output: str) -> None:
    write_window(output, hour_window(0, 1), [conversation("1", 0, 0.5), conversation("2", 0, 0.6)])
    write_window(output, hour_window(1, 2), [conversation("1", 0, 1.5, state="closed")])


def test_two_refreshes_at_once_on_s3_take_turns(s3, slow_refreshes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.fs as pafs

    output = "s3://lake/two-refreshes"
    _windows(output)
    assert _two_at_once(output) == []
    (_, a_end), (b_start, _) = sorted(slow_refreshes)
    assert b_start >= a_end, "the second refresh ran while the first one held the output"
    storage = Storage(output)
    assert not storage.exists(REFRESH_LEASE)
    local = tmp_path / "copy"
    fs = pafs.S3FileSystem(
        endpoint_override=s3["AWS_ENDPOINT_URL"], access_key="testing", secret_key="testing"
    )
    pafs.copy_files("lake/two-refreshes", str(local), source_filesystem=fs)
    assert rows_of(local) == full_rebuild(local, tmp_path / "rebuild")


def test_two_refreshes_at_once_on_local_disk_take_turns(slow_refreshes, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "out"
    _windows(str(output))
    assert _two_at_once(str(output)) == []
    (_, a_end), (b_start, _) = sorted(slow_refreshes)
    assert b_start >= a_end
    assert rows_of(output) == full_rebuild(output, tmp_path)


def test_a_refresh_waits_a_bounded_time_then_says_who_holds_the_output(tmp_path: Path) -> None:
    output = str(tmp_path)
    _windows(output)
    with RefreshLease(Storage(output), "hourly-run-7"):
        began = time.monotonic()
        with pytest.raises(RefreshBusy) as busy:
            RefreshLease(Storage(output), wait_seconds=1.0).acquire()
        assert 0.9 <= time.monotonic() - began < 10
    message = str(busy.value)
    assert "current/ and marts/" in message and "hourly-run-7" in message
    assert "\n" not in message
    assert refresh(output).windows_folded == 2  # released: the next refresh runs
