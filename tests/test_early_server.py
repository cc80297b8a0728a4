"""The CLI's early temporary server (``flows/early_server.py``): it serves Prefect's API, the
flow runs against it in embedded mode, it never outlives its bound or its CLI, and a server the
user names — in the environment or in a profile — is used instead, untouched."""

import os
import subprocess
import sys
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
    from prefect.settings import get_current_settings

    server = EarlyServer()
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
    """The same switches Prefect's own temporary server gets (its UI off, ephemeral mode): a
    Prefect release that changes them fails here."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    from intercom_enrichment_flows.early_server import SERVER_ENV

    captured: dict[str, str] = {}

    def record(args: list[str], env: dict[str, str], **kw: object) -> None:
        captured.update({k: v for k, v in env.items() if os.environ.get(k) != v})
        raise RuntimeError("recorded")

    monkeypatch.setattr(subprocess, "Popen", record)
    with pytest.raises(RuntimeError, match="recorded"):
        SubprocessASGIServer(port=1)._run_uvicorn_command()
    # Beside them Prefect passes its settings, which the early server reads itself (the same
    # environment, profile and files).
    settings = get_current_settings().to_environment_variables(exclude_unset=True)
    assert {k: v for k, v in captured.items() if k not in settings} == SERVER_ENV
