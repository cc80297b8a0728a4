"""One writer per window: the lease refuses a second live run, expires for a killed one, and
two runs of one window (local disk and moto's S3 server) leave one consistent dataset."""

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.pipeline import WindowJob, run_window
from intercom_enrichment.layout import lease_path
from intercom_enrichment.output.lease import LeaseRecord
from intercom_enrichment.output.liveness import host_slug, pid_scope
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import WindowBusy, WindowLease, WindowWriter, read_manifest
from intercom_enrichment.windows import Window

WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_second_live_run_is_refused_in_one_line(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    with WindowLease(storage, WINDOW, "run-a"):
        with pytest.raises(WindowBusy) as busy:
            WindowLease(storage, WINDOW, "run-b").acquire()
        message = str(busy.value)
        assert "run-a" in message and WINDOW.key in message and "\n" not in message
    with WindowLease(storage, WINDOW, "run-b"):  # released: the next run gets it
        assert (tmp_path / lease_path(WINDOW)).exists()
    assert not (tmp_path / lease_path(WINDOW)).exists()


def test_waiting_is_bounded_and_ends_when_the_holder_releases(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    first = WindowLease(storage, WINDOW, "run-a").acquire()
    waiting = WindowLease(storage, WINDOW, "run-b", wait_seconds=30)
    got = threading.Event()

    def take() -> None:
        with waiting:
            got.set()

    thread = threading.Thread(target=take)
    thread.start()
    assert not got.wait(0.3)  # still held by run-a
    first.release()
    assert got.wait(30)
    thread.join(30)


def test_an_expired_lease_is_taken_over(tmp_path: Path) -> None:
    storage, clock = Storage(str(tmp_path)), FakeClock()
    stuck = WindowLease(storage, WINDOW, "stuck", seconds=60, clock=clock).acquire()
    stuck._stop.set()  # a hung run: no more heartbeats
    clock.now += 30
    with pytest.raises(WindowBusy):
        WindowLease(storage, WINDOW, "early", seconds=60, clock=clock).acquire()
    clock.now += 31
    late = WindowLease(storage, WINDOW, "late", seconds=60, clock=clock).acquire()
    with pytest.raises(WindowBusy, match="another run took it"):
        stuck.ensure_held()  # the hung run must not publish over the new holder
    late.release()
    stuck.release()  # not its lease any more: leaves the file alone
    assert not (tmp_path / lease_path(WINDOW)).exists()


def test_the_lease_of_a_killed_process_is_stale_at_once_and_its_staging_removed(
    tmp_path: Path,
) -> None:
    storage = Storage(str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    record = LeaseRecord(
        "killed", "deadbeefdeadbeef", host_slug(), pid, time.time() + 600, pid_scope()
    )
    (tmp_path / "_runs").mkdir()
    (tmp_path / lease_path(WINDOW)).write_text(record.text())
    folder = tmp_path / "conversations" / "updated_date=2026-10-01"
    folder.mkdir(parents=True)
    name = f"{WINDOW.key}.parquet"
    killed = folder / f".{name}.deadbeefdeadbeef.0123456789ab.tmp"
    live = folder / f".{name}.0011223344556677.0123456789ab.tmp"  # another run's, young
    killed.write_text("x")
    live.write_text("x")
    with WindowLease(storage, WINDOW, "next"):
        assert not killed.exists() and live.exists()
    old = time.time() - 700
    os.utime(live, (old, old))  # older than the lease period: stale whoever wrote it
    with WindowLease(storage, WINDOW, "next", seconds=600):
        assert not live.exists()


def _job(server, output: str) -> tuple[IntercomSettings, WindowJob]:  # type: ignore[no-untyped-def]
    cfg = server.world.config
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    return settings, WindowJob(Window(cfg.window_start, cfg.window_end), output)


def _two_runs(server, output: str, lease_exists) -> tuple[Any, BaseException | None]:  # type: ignore[no-untyped-def]
    """Run A in a thread; once it holds the window's lease, run B; then let A finish."""
    settings, job = _job(server, output)
    outcome: dict[str, Any] = {}

    def first() -> None:
        outcome["a"] = run_window(settings, job)

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 60
    while not lease_exists() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lease_exists(), "run A never took the lease"
    second: BaseException | None = None
    try:
        run_window(settings, job)
    except WindowBusy as exc:
        second = exc
    thread.join(120)
    return outcome.get("a"), second


def _consistent(root: Path) -> None:
    manifest = json.loads(next((root / "_runs").glob("*.json")).read_text())
    assert manifest["status"] == "completed"
    for entry in manifest["files"]:
        if entry["path"].endswith(".parquet"):
            assert pq.read_metadata(root / entry["path"]).num_rows == entry["rows"]
    listed = {e["path"] for e in manifest["files"]}
    window_files = {
        str(p.relative_to(root))
        for p in root.rglob("*.parquet")
        if p.relative_to(root).parts[0] != "dimensions"  # the run's snapshots: not the window's
    }
    assert window_files == listed
    assert not list(root.rglob("*.tmp")) and not list(root.rglob("*.lease"))


def test_two_runs_of_one_window_on_local_disk(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=300, contacts=80, latency_ms=(20, 40))
    lease = tmp_path / lease_path(
        Window(server.world.config.window_start, server.world.config.window_end)
    )
    a, busy = _two_runs(server, str(tmp_path), lease.exists)
    assert a is not None and isinstance(busy, WindowBusy)
    _consistent(tmp_path)
    rows = ds.dataset(tmp_path / "conversations", format="parquet", partitioning="hive").to_table()
    assert rows.num_rows == 300 == len(set(rows.column("conversation_id").to_pylist()))


def test_on_s3_the_lease_is_a_conditional_put(s3) -> None:  # type: ignore[no-untyped-def]
    storage = Storage("s3://leases/conditional")
    with WindowLease(storage, WINDOW, "run-a"):
        with pytest.raises(WindowBusy, match="run-a"):
            WindowLease(storage, WINDOW, "run-b").acquire()
        held = LeaseRecord.parse(storage.read_text(lease_path(WINDOW)))
        assert held is not None and held.run_id == "run-a"
    assert not storage.exists(lease_path(WINDOW))


def test_two_runs_of_one_window_on_s3(s3, sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=300, contacts=80, latency_ms=(20, 40))
    window = Window(server.world.config.window_start, server.world.config.window_end)
    storage = Storage("s3://leases/two-runs")

    def lease_exists() -> bool:
        storage.fs.invalidate_cache()
        return bool(storage.fs.exists(storage.path(lease_path(window))))

    a, busy = _two_runs(server, "s3://leases/two-runs", lease_exists)
    assert a is not None and isinstance(busy, WindowBusy)
    manifest = read_manifest(Storage("s3://leases/two-runs"), window)
    assert manifest is not None and manifest["status"] == "completed"
    assert not storage.exists(lease_path(window))


def test_a_writer_holds_the_lease_until_it_publishes(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    writer = WindowWriter(storage, WINDOW, ["conversations"])
    with pytest.raises(WindowBusy):
        WindowWriter(storage, WINDOW, ["conversations"])
    writer.publish({})
    WindowWriter(storage, WINDOW, ["conversations"]).abort()
    assert not (tmp_path / lease_path(WINDOW)).exists()


@pytest.mark.usefixtures("prefect_harness")
def test_the_cli_refuses_a_window_another_live_run_holds_in_one_line(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from prefect.settings import PREFECT_API_URL

    from tests.test_cli import run_day

    server = sandbox(conversations=20, contacts=8)
    window = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
    with WindowLease(Storage(str(tmp_path)), window, "scheduled-run"):  # this process: alive
        env = {
            "INTERCOM_ACCESS_TOKEN": server.token,
            "INTERCOM_BASE_URL": server.url,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        }
        proc = run_day(tmp_path, env)
        assert proc.returncode == 1, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]  # Prefect's log of the failed run above it
        assert last.startswith("intercom-enrich: error: window ") and "is being written" in last
        assert "scheduled-run" in last
        assert not list(tmp_path.rglob("*.parquet")) and not list(
            (tmp_path / "_runs").glob("*.json")
        )


def test_a_lease_path_that_exists_but_cannot_be_read_is_waited_on_not_spun_on(
    tmp_path: Path,
) -> None:
    """A dangling link where the lease file belongs: creating it fails (it exists), reading it
    finds nothing. The run must still give up at its deadline with ``WindowBusy``, not retry
    at full speed forever (run in a child process, so a regression fails on its timeout)."""
    lease = tmp_path / lease_path(WINDOW)
    lease.parent.mkdir(parents=True)
    lease.symlink_to(tmp_path / "nowhere")
    code = (
        "import sys; from datetime import UTC, datetime;"
        "from intercom_enrichment.output.writer import WindowBusy, WindowLease;"
        "from intercom_enrichment.output.storage import Storage;"
        "from intercom_enrichment.windows import Window;"
        "w = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC));"
        f"l = WindowLease(Storage({str(tmp_path)!r}), w, 'run', wait_seconds=1)\n"
        "try:\n    l.acquire()\nexcept WindowBusy as e:\n    print('busy', e)"
    )
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith(f"busy window {WINDOW.key} is being written"), proc.stderr
    assert time.monotonic() - began < 30


def _dead_pid() -> int:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(dead.stdout)


@pytest.mark.parametrize(
    "scope",
    [
        "another-boot/pid:[4026531836]",  # a container sharing the host name, not the pids
        "",  # written where the scope could not be read: expiry alone decides
    ],
)
def test_a_pid_seen_from_another_pid_namespace_does_not_make_a_lease_stale(
    tmp_path: Path, scope: str
) -> None:
    storage = Storage(str(tmp_path))
    record = LeaseRecord("elsewhere", "feedfacefeedface", host_slug(), _dead_pid(), 2e9, scope)
    (tmp_path / "_runs").mkdir()
    (tmp_path / lease_path(WINDOW)).write_text(record.text())
    with pytest.raises(WindowBusy, match="elsewhere"):
        WindowLease(storage, WINDOW, "here").acquire()
    assert LeaseRecord.parse((tmp_path / lease_path(WINDOW)).read_text()) == record


def test_a_lease_records_where_its_pid_was_seen(tmp_path: Path) -> None:
    with WindowLease(Storage(str(tmp_path)), WINDOW, "run-a"):
        held = LeaseRecord.parse((tmp_path / lease_path(WINDOW)).read_text())
    assert held is not None and held.scope == pid_scope() and held.scope.count("/") == 1


def test_on_s3_a_lease_created_between_the_check_and_the_put_is_not_overwritten(
    s3, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The create is atomic on S3 (``If-None-Match: *``): even when an existence check would say
    the lease is free — another run's create landing just after it — the second run is
    refused. A check-then-put would overwrite the first run's lease here."""
    storage = Storage("s3://leases/race-check")
    first = WindowLease(storage, WINDOW, "run-a").acquire()
    monkeypatch.setattr(type(storage.fs), "exists", lambda self, path, **kw: False)
    try:
        with pytest.raises(WindowBusy, match="run-a"):
            WindowLease(storage, WINDOW, "run-b").acquire()
        held = LeaseRecord.parse(storage.read_text(lease_path(WINDOW)))
        assert held is not None and held.run_id == "run-a"
    finally:
        monkeypatch.undo()
        first.release()


def test_on_s3_of_racing_creates_exactly_one_wins(s3) -> None:  # type: ignore[no-untyped-def]
    storage = Storage("s3://leases/race-many")
    for attempt in range(5):
        window = Window(WINDOW.start, WINDOW.end.replace(hour=attempt + 1))
        leases = [WindowLease(storage, window, f"run-{k}") for k in range(6)]
        barrier = threading.Barrier(len(leases))
        won: list[bool] = []

        def create(lease: WindowLease, barrier: threading.Barrier, won: list[bool]) -> None:
            barrier.wait()
            won.append(lease._create())

        threads = [threading.Thread(target=create, args=(lease, barrier, won)) for lease in leases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(won) == [False] * 5 + [True], attempt
