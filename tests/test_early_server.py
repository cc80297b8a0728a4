"""The CLI's early temporary server (``flows/early_server.py``): it serves Prefect's API, the
flow runs against it in embedded mode, it never outlives its bound or its CLI, and a server the
user names — in the environment or in a profile — is used instead, untouched."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from intercom_enrichment_flows.early_server import EarlyServer, serving
from tests.prefect_server import prefect_env, prefect_server

ROOT = Path(__file__).resolve().parents[1]


def _alive(server: EarlyServer) -> bool:
    try:
        return httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_it_serves_the_api_the_flow_is_pointed_at_and_stops() -> None:
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    server = EarlyServer()
    # No API URL, as for the CLI in embedded mode (the session's Prefect harness sets one).
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        try:
            with serving(server):
                assert get_current_settings().api.url == server.api_url
                assert _alive(server)
            assert get_current_settings().api.url is None  # the block's setting only
        finally:
            server.stop()
    assert not _alive(server)


def test_a_server_that_does_not_start_in_time_is_stopped_with_one_clear_error() -> None:
    server = EarlyServer()
    with pytest.raises(RuntimeError, match=r"Timed out after 0\.01 s .*STARTUP_TIMEOUT_SECONDS"):
        server.wait(0.01)
    assert server._proc is None  # stopped, not left booting


def test_a_server_the_environment_names_means_no_early_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert EarlyServer.start() is None


@pytest.mark.slow
def test_a_server_a_profile_names_is_the_one_the_run_reports_to(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """PREFECT_API_URL in the active profile, not in the environment: the CLI's early server is
    stopped unused and the flow run is recorded by the profile's server."""
    intercom = sandbox(conversations=20, contacts=10, tickets=0)
    home = tmp_path / "home"
    home.mkdir()
    with prefect_server(home) as api:
        (home / "profiles.toml").write_text(
            f'active = "named"\n\n[profiles.named]\nPREFECT_API_URL = "{api}"\n'
        )
        env = prefect_env(
            home, INTERCOM_BASE_URL=intercom.url, INTERCOM_ACCESS_TOKEN=intercom.token
        )
        assert "PREFECT_API_URL" not in env
        window = ["--start", "2026-10-01", "--end", "2026-10-02", "--output", str(tmp_path / "o")]
        proc = subprocess.run(
            [sys.executable, "-m", "intercom_enrichment_flows.cli", "run", *window],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=30).json()
    assert runs and {r["state_type"] for r in runs} == {"COMPLETED"}


def test_the_environment_of_the_early_server_is_prefects_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same command and switches Prefect's own temporary server gets (its UI off,
    ephemeral mode): a Prefect release that changes them fails here."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    from intercom_enrichment_flows.early_server import SERVER_ENV, server_command

    captured: dict[str, str] = {}
    command: list[str] = []

    def record(args: list[str], env: dict[str, str], **kw: object) -> None:
        captured.update({k: v for k, v in env.items() if os.environ.get(k) != v})
        command.extend(args)
        raise RuntimeError("recorded")

    monkeypatch.setattr(subprocess, "Popen", record)
    with pytest.raises(RuntimeError, match="recorded"):
        SubprocessASGIServer(port=1)._run_uvicorn_command()
    # Beside them Prefect passes its settings, which the early server reads itself (the same
    # environment, profile and files).
    settings = get_current_settings().to_environment_variables(exclude_unset=True)
    assert {k: v for k, v in captured.items() if k not in settings} == SERVER_ENV
    assert command == server_command(1)


def test_a_server_named_in_a_profile_or_a_settings_file_means_no_early_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    from intercom_enrichment_flows.early_server import _names_a_server

    assert not _names_a_server()
    (home / "profiles.toml").write_text(
        'active = "mine"\n[profiles.mine]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
    )
    assert _names_a_server() and EarlyServer.start() is None
    (home / "profiles.toml").write_text('active = "mine"\n[profiles.mine]\n')
    assert not _names_a_server()
    (tmp_path / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:9/api"\n')
    assert _names_a_server()


def test_a_stop_while_it_boots_stops_it() -> None:
    from intercom_enrichment.errors import Interrupted
    from intercom_enrichment.signals import request_stop, run_scope

    server = EarlyServer()
    with run_scope():
        request_stop()
        with pytest.raises(Interrupted):
            server.wait(60)
    assert server._proc is None


@pytest.mark.slow
def test_a_forced_exit_takes_the_server_down_too(tmp_path: Path) -> None:
    """A forced exit (a second signal, or the grace period out) skips atexit: the server is
    sent SIGTERM before it."""
    code = (
        "from intercom_enrichment_flows.early_server import EarlyServer\n"
        "from intercom_enrichment import signals\n"
        "s = EarlyServer(); s.wait(120); print(s._proc.pid, flush=True)\n"
        "signals._exit_now(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.2)
    assert not _running(pid)


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and has not exited (a zombie waits only to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
