"""SIGTERM and SIGINT stop a stuck CLI run or backfill within 10 s (issue 9): exit 143 / 130,
one ``intercom-enrich: error:`` line, no staging file left, the previous manifest untouched, and
no Prefect flow run left Running. The server never answers the request the run is stuck on, and
the request timeout stays at its 60 s default: only the cancellation can end it in time."""

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .misbehaving_intercom import TOKEN, Reply, Request, intercom, misbehaving, world

ROOT = Path(__file__).resolve().parents[1]
WINDOW_KEY = "20261001T000000Z_20261002T000000Z"
STOP_WITHIN = 10.0


def start_cli(url: str, *args: str, home: Path | None = None) -> subprocess.Popen[str]:
    """The CLI against the test Prefect API, or (``home``) in Prefect's ephemeral mode with
    that PREFECT_HOME, in a session of its own as a terminal would start it."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "PREFECT_"))}
    env.update(INTERCOM_BASE_URL=url, INTERCOM_ACCESS_TOKEN=TOKEN)
    if home is None:
        env.update(
            PREFECT_HOME=os.environ["PREFECT_HOME"], PREFECT_API_URL=str(PREFECT_API_URL.value())
        )
    else:
        env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return subprocess.Popen(
        [sys.executable, "-m", "intercom_enrichment_flows.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=home is not None,
    )


def stop(proc: subprocess.Popen[str], signum: int, group: bool = False) -> tuple[int, str, str]:
    if group:  # Ctrl-C in a terminal: the whole process group, children included
        os.killpg(proc.pid, signum)
    else:
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


def api_states(output: Path) -> dict[str, str | None]:
    """Flow run name → state type, from the test Prefect API."""
    return {r.name: r.state.type.value if r.state else None for r in flow_runs_of(output)}


def ephemeral_states(home: Path) -> dict[str, str | None]:
    """Flow run name → state type, from the SQLite database of an ephemeral-mode PREFECT_HOME
    (its temporary API server has stopped with the CLI)."""
    with sqlite3.connect(home / "prefect.db") as db:
        return dict(db.execute("SELECT name, state_type FROM flow_run").fetchall())


def assert_clean_stop(
    proc: subprocess.Popen[str],
    signum: int,
    output: Path,
    states: Callable[[], dict[str, str | None]],
    *,
    group: bool = False,
) -> None:
    code, out, err = stop(proc, signum, group)
    assert code == 128 + signum, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("intercom-enrich: error:")]
    assert len(errors) == 1, err[-8000:]
    assert signal.Signals(signum).name in errors[0] or "windows failed" in errors[0], errors
    assert TOKEN not in out + err
    assert not [p for p in output.rglob("*") if p.name.endswith(".tmp")]
    for path in output.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    ended = states()
    assert ended, "the run never reached Prefect"
    assert all(s in ("FAILED", "CRASHED", "CANCELLED") for s in ended.values()), ended


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
            assert_clean_stop(proc, signal.SIGTERM, output, lambda: api_states(output))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert manifest.read_text() == '{"status": "completed", "from": "the last good run"}\n'
    assert not list(output.rglob("*.parquet"))


FLOW_IN_MAIN_THREAD = """
import sys
from datetime import UTC, datetime
from intercom_enrichment_flows.enrich_conversations import enrich_conversations
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
    states = api_states(output)
    assert list(states.values()) == ["CRASHED"], states


@pytest.mark.slow
def test_ctrl_c_stops_a_backfill_stuck_listing_in_ephemeral_mode(tmp_path: Path) -> None:
    """SIGINT to the whole process group, as Ctrl-C in a terminal sends it: Prefect's ephemeral
    API server (a child) must outlive the run long enough to record that it ended."""
    output, home = tmp_path / "out", tmp_path / "prefect-home"
    home.mkdir()
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
            home=home,
        )
        try:
            server.wait_for("/conversations/search", 1, timeout=120)
            assert_clean_stop(
                proc, signal.SIGINT, output, lambda: ephemeral_states(home), group=True
            )
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        assert len(server.seen("/conversations/search")) == 1  # later windows never started
