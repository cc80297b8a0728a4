"""Prefect's temporary API server, started by the CLI before its imports and its pre-flight.

With no ``PREFECT_API_URL``, Prefect starts a temporary server when a flow first needs one
(``SubprocessASGIServer``, prefect 3.9 ``server/api/server.py``): only after the CLI has imported
Prefect and checked its input, and only after importing the server's code into the CLI's own
process (1.5–1.9 s here) before starting it in a subprocess (3.5 s on a warm home). Started
here, the subprocess starts first, with the same command and environment, and the CLI's
imports, checks and ``GET /me`` run while it boots; the flow then runs against it as against
any server (``api_url``), and it is stopped when the CLI exits, as Prefect's is.

Nothing changes for a user who names a server: an environment's ``PREFECT_API_URL`` means no
early start, and a profile's or settings file's (known only once Prefect's settings are
loaded) stops the early server unused. ``docs/performance.md`` has what it saves.
"""

import atexit
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

# What Prefect's SubprocessASGIServer sets for its temporary server (prefect 3.9).
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
PORT_TAKEN = 3  # uvicorn's exit code when the port is taken: start again on another
STOP_GRACE = 5.0  # seconds between terminate and kill


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EarlyServer:
    """A temporary Prefect API server in a subprocess of this one."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = self._spawn()
        atexit.register(self.stop)

    @classmethod
    def start(cls) -> "EarlyServer | None":
        """Start one unless the environment names a server already."""
        return None if os.environ.get("PREFECT_API_URL") else cls()

    def _spawn(self) -> subprocess.Popen[bytes]:
        spec = importlib.util.find_spec("prefect")
        assert spec is not None and spec.origin is not None
        command = [
            sys.executable, "-m", "uvicorn",
            "--app-dir", str(Path(spec.origin).parent.parent),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        return subprocess.Popen(
            command,
            env={**os.environ, **SERVER_ENV},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait(self, bound: float) -> None:
        """Return once the server answers ``/health``; RuntimeError after ``bound`` seconds or
        if it exits (one new port if uvicorn found its port taken)."""
        deadline = time.monotonic() + bound
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self._proc is not None, "the early server was stopped"
                code = self._proc.poll()
                if code == PORT_TAKEN:
                    self.port = _free_port()
                    self._proc = self._spawn()
                elif code is not None:
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
