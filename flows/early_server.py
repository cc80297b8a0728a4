"""Prefect's temporary API server, started by the CLI while it imports Prefect and calls GET /me.

With no ``PREFECT_API_URL``, Prefect starts a temporary server when a flow first needs one
(``SubprocessASGIServer``, prefect 3.9 ``server/api/server.py``): only after the CLI has imported
Prefect and checked its input, and only after importing the server's code into the CLI's own
process (1.5–1.9 s here) before starting it in a subprocess (3.5 s on a warm home). Started
here, once the CLI's local checks have passed, the subprocess starts first, with the same command
and environment, and the CLI's imports and ``GET /me`` run while it boots; the flow then runs
against it as against any server (``api_url``). It is stopped when the CLI exits (``atexit``),
when a stop is requested while it boots, and before a forced exit (``signals``).

Nothing changes for a user who names a server: ``PREFECT_API_URL`` in the environment or the
active profile, or an API URL in a settings file of the working folder, means no early start
(``_names_a_server``), and ``serving`` checks again with Prefect's own settings.
``docs/performance.md`` has what it saves.
"""

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from intercom_enrichment.errors import Interrupted
from intercom_enrichment.signals import before_forced_exit, stop_requested

# What Prefect's SubprocessASGIServer sets for its temporary server (prefect 3.9).
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
PORT_TAKEN = 3  # uvicorn's exit code when its start fails (a port taken): try another port
MAX_RESPAWNS = 2  # …at most this many times, then report the exit code
STOP_GRACE = 5.0  # seconds between terminate and kill


def server_command(port: int) -> list[str]:
    """The command Prefect's ``SubprocessASGIServer`` runs for its temporary server."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None
    return [
        sys.executable, "-m", "uvicorn",
        "--app-dir", str(Path(spec.origin).parent.parent),
        "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip


def _names_a_server() -> bool:
    """Whether ``PREFECT_API_URL`` is set in the environment or the active profile, or a settings
    file Prefect reads from the working folder (``prefect.toml``, ``pyproject.toml``, ``.env``)
    mentions an API URL. Read without importing Prefect; when in doubt, no early start."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        loaded = tomllib.loads(profiles.read_text()) if profiles.is_file() else {}
    except (OSError, tomllib.TOMLDecodeError):
        return True
    active = os.environ.get("PREFECT_PROFILE") or loaded.get("active") or "ephemeral"
    profile = loaded.get("profiles", {}).get(active, {})
    if not isinstance(profile, dict) or profile.get("PREFECT_API_URL"):
        return True
    try:
        settings = [_toml("prefect.toml"), _toml("pyproject.toml").get("tool", {}).get("prefect")]
        dotenv = Path(".env").read_text() if Path(".env").is_file() else ""
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return True
    named = (isinstance(t, dict) and isinstance(t.get("api"), dict) and t["api"].get("url")
             for t in settings)  # fmt: skip
    return any(named) or "PREFECT_API_URL" in dotenv


def _toml(name: str) -> dict[str, Any]:
    return tomllib.loads(Path(name).read_text()) if Path(name).is_file() else {}


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EarlyServer:
    """A temporary Prefect API server in a subprocess of this one."""

    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = self._spawn()
        self._respawns = 0
        atexit.register(self.stop)
        before_forced_exit(self._terminate)  # a forced exit skips atexit

    @classmethod
    def start(cls) -> "EarlyServer | None":
        """Start one unless the environment, the active profile or a settings file in this
        folder may name a server (``serving`` checks again with Prefect's own settings)."""
        return None if _names_a_server() else cls()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            server_command(self.port),
            env={**os.environ, **SERVER_ENV},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait(self, bound: float) -> None:
        """Return once the server answers ``/health``; RuntimeError after ``bound`` seconds or
        if it exits (at most MAX_RESPAWNS new ports if uvicorn found its port taken)."""
        deadline = time.monotonic() + bound
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self._proc is not None, "the early server was stopped"
                if stop_requested():
                    self.stop()
                    raise Interrupted("stopped while Prefect's temporary server was starting")
                code = self._proc.poll()
                if code == PORT_TAKEN and self._respawns < MAX_RESPAWNS:
                    self._respawns += 1
                    self.port = free_port()
                    self._proc = self._spawn()
                elif code is not None:
                    self.stop()
                    raise RuntimeError(f"Prefect's temporary server exited with code {code}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"Timed out after {bound:g} s while starting Prefect's temporary server "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS sets the bound)"
        )

    def _terminate(self) -> None:
        """SIGTERM to the server, without waiting (for a forced exit)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serving(server: EarlyServer | None) -> Iterator[None]:
    """Run the block against ``server`` where Prefect would otherwise start its own temporary
    server; stop ``server`` unused where the settings name another or forbid a temporary one.
    To be entered inside the CLI's start-up bound (``cli._prefect_startup_bound``)."""
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        server.stop()
        yield
        return
    server.wait(settings.server.ephemeral.startup_timeout_seconds)
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield
