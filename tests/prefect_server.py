"""A real, temporary `prefect server start` (own PREFECT_HOME, free port) for deployment tests."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from intercom_enrichment_flows.early_server import free_port

BIN = Path(sys.executable).parent


def prefect_env(home: Path, api_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INTERCOM_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # as with an activated venv
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """Start a server; yield its API URL; stop it."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=prefect_env(home, PREFECT_UI_API_URL=api),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError((home / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        else:
            raise TimeoutError("prefect server did not start in 90 s")
        yield api
    finally:
        _send_pending_logs()
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def _send_pending_logs() -> None:
    """Send the logs this process's flows queued for a server while it is still up.

    Prefect sends them in the background and drains its queue only at exit: the queue of a
    server that is gone is retried against it, and ``APILogHandler.aflush()`` in a later test
    waits on it (43 s in a whole run, before this)."""
    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=30)


def prefect_cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    """Run a `prefect` command against the server in ``env``; fail loudly."""
    proc = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@contextmanager
def process_worker(
    env: dict[str, str], pool: str, name: str, log: Path, cwd: Path, limit: int = 1
) -> Iterator[Path]:
    """A `prefect worker start` for ``pool``, running at most ``limit`` flow runs at once."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", name,
             "--limit", str(limit)],
            env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            yield log
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
