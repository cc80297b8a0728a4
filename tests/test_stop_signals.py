"""SIGTERM and SIGINT stop a stuck CLI run or backfill within 10 s (issue 9): exit 143 / 130,
one ``intercom-enrich: error:`` line, no staging file left, the previous manifest untouched, and
no Prefect flow run left Running. The server never answers the request the run is stuck on, and
the request timeout stays at its 60 s default: only the cancellation can end it in time."""

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .misbehaving_intercom import TOKEN, Reply, Request, intercom, misbehaving, world

ROOT = Path(__file__).resolve().parents[1]
WINDOW_KEY = "20261001T000000Z_20261002T000000Z"
STOP_WITHIN = 10.0


def start_cli(url: str, *args: str) -> subprocess.Popen[str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    env.update(
        INTERCOM_BASE_URL=url,
        INTERCOM_ACCESS_TOKEN=TOKEN,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "intercom_enrichment.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            f"still running {STOP_WITHIN} s after the signal: {err[-2000:]}"
        ) from None
    return proc.returncode, out, err


def flow_runs_of(output: Path) -> list[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    return [r for r in runs if str(output) in str(r.parameters.get("output", ""))]


def assert_clean_stop(proc: subprocess.Popen[str], signum: int, output: Path) -> None:
    code, out, err = stop(proc, signum)
    assert code == 128 + signum, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("intercom-enrich: error:")]
    assert len(errors) == 1, err[-8000:]
    assert signal.Signals(signum).name in errors[0] or "windows failed" in errors[0], errors
    assert TOKEN not in out + err
    assert not [p for p in output.rglob("*") if p.name.endswith(".tmp")]
    for path in output.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    runs = flow_runs_of(output)
    assert runs, "the run never reached Prefect"
    states = {r.name: r.state.type.value if r.state else None for r in runs}
    assert all(s in ("FAILED", "CRASHED", "CANCELLED") for s in states.values()), states


@pytest.mark.usefixtures("prefect_harness")
def test_sigterm_stops_a_run_stuck_mid_window(tmp_path: Path) -> None:
    output = tmp_path / "out"
    manifest = output / "_runs" / f"{WINDOW_KEY}.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"status": "completed", "from": "the last good run"}\n')
    conversations = world(601)  # 601 contacts: five batches of 150 contacts, four at a time
    well_behaved = intercom(conversations)

    def handler(request: Request) -> Reply:
        if request.path == "/contacts/search" and len(server.seen(request.path)) > 4:
            return Reply(hang=True)  # the second group of batches hangs
        return well_behaved(request)

    with misbehaving(handler) as server:
        proc = start_cli(
            server.url,
            *("run", "--start", "2026-10-01", "--end", "2026-10-02"),
            *("--output", str(output), "--batch-size", "10"),
        )
        try:
            server.wait_for("/contacts/search", 5, timeout=90)
            assert list(output.rglob("*.tmp")), "the first group of batches should be staged by now"
            assert_clean_stop(proc, signal.SIGTERM, output)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert manifest.read_text() == '{"status": "completed", "from": "the last good run"}\n'
    assert not list(output.rglob("*.parquet"))


FLOW_IN_MAIN_THREAD = """
import sys
from datetime import UTC, datetime
from flows.enrich_conversations import enrich_conversations
enrich_conversations(start=datetime(2026, 10, 1, tzinfo=UTC), end=datetime(2026, 10, 2, tzinfo=UTC),
                     output=sys.argv[1], batch_size=10)
"""


@pytest.mark.usefixtures("prefect_harness")
def test_sigterm_stops_the_flow_in_the_main_thread_as_under_a_worker(tmp_path: Path) -> None:
    """Prefect's own SIGTERM handler is in charge here (as in a worker's ``flow-run execute``):
    the run ends Crashed, and the requests in flight are cancelled rather than waited for."""
    from prefect.settings import PREFECT_API_URL

    output = tmp_path / "out"
    well_behaved = intercom(world(3))

    def handler(request: Request) -> Reply:
        if request.path == "/contacts/search":
            return Reply(hang=True)
        return well_behaved(request)

    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    with misbehaving(handler) as server:
        env.update(
            INTERCOM_BASE_URL=server.url,
            INTERCOM_ACCESS_TOKEN=TOKEN,
            PREFECT_API_URL=str(PREFECT_API_URL.value()),
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", FLOW_IN_MAIN_THREAD, str(output)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            server.wait_for("/contacts/search", 1, timeout=90)
            code, out, err = stop(proc, signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert code == -signal.SIGTERM, err[-3000:]  # Prefect re-raises the signal to its default
    assert TOKEN not in out + err
    assert not [p for p in output.rglob("*") if p.name.endswith(".tmp")]
    states = {r.name: r.state.type.value if r.state else None for r in flow_runs_of(output)}
    assert list(states.values()) == ["CRASHED"], states


@pytest.mark.usefixtures("prefect_harness")
def test_sigint_stops_a_backfill_stuck_listing(tmp_path: Path) -> None:
    output = tmp_path / "out"
    well_behaved = intercom(world(3))

    def handler(request: Request) -> Reply:
        if request.path == "/conversations/search":
            return Reply(hang=True)
        return well_behaved(request)

    with misbehaving(handler) as server:
        proc = start_cli(
            server.url,
            *("backfill", "--start", "2026-10-01", "--end", "2026-10-04", "--every", "1d"),
            *("--output", str(output), "--max-concurrent", "1"),
        )
        try:
            server.wait_for("/conversations/search", 1, timeout=90)
            assert_clean_stop(proc, signal.SIGINT, output)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert len(server.seen("/conversations/search")) == 1  # later windows never started
