"""Serve the sandbox with uvicorn: on a background thread, or in the foreground for a CLI."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType

import uvicorn

from .app import build_app
from .config import SandboxConfig
from .hold import RequestHold
from .stats import SandboxStats
from .world import World


class SandboxServer:
    """A real HTTP server on `host` that speaks Intercom's API over a deterministic world.

    The socket is bound by the server itself (port 0 picks a free port); uvicorn runs it on a
    daemon thread with its own event loop. Use as a context manager, or call `start`/`stop`.
    """

    def __init__(
        self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self._requested_port = port
        self._world = World(self.config)
        self._stats = SandboxStats()
        self.hold = RequestHold()  # tests: keep requests unanswered at a chosen moment
        self._app = build_app(self._world, self.config, self._stats, self.hold)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53124`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def token(self) -> str:
        """The bearer token the server accepts."""
        return self.config.token

    @property
    def stats(self) -> SandboxStats:
        return self._stats

    @property
    def world(self) -> World:
        return self._world

    def start(self, timeout: float = 10.0) -> SandboxServer:
        """Bind, start serving, and return once the server accepts connections.

        Raises RuntimeError if it does not within `timeout` seconds.
        """
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already started")
        # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; with
        # proto 0 it does not, and Nagle + delayed ACKs add ~40 ms to every response.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._socket, self._port, self._error = sock, sock.getsockname()[1], None
        self._app.state.stopping.clear()
        server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                log_config=None,  # leave the host process's logging configuration alone
                log_level="warning",
                access_log=False,
                lifespan="off",
                ws="none",
                proxy_headers=False,
                backlog=4096,
                limit_concurrency=None,
                timeout_keep_alive=30,
                timeout_graceful_shutdown=2,
            )
        )
        self._server = server
        self._thread = threading.Thread(
            target=self._run,
            args=(server, sock),
            name=f"intercom-sandbox-{self._port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                failure = self._error
                self.stop()
                raise RuntimeError(f"the sandbox server did not start: {failure!r}")
            time.sleep(0.005)
        try:
            socket.create_connection((self.host, self._port), timeout=timeout).close()
        except OSError as error:
            self.stop()
            raise RuntimeError(
                f"the sandbox server does not accept connections: {error}"
            ) from error
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as error:  # reported by start(); the thread must not die noisily
            self._error = error

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down and release the port; in-flight requests finish without their delays."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            self._app.state.stopping.set()
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt as usual)."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(0.5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def run_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[SandboxServer]:
    """Run a sandbox server for the duration of a ``with`` block."""
    with SandboxServer(config, host, port) as server:
        yield server


def serve_forever(
    config: SandboxConfig | None = None,
    port: int = 8000,
    host: str = "127.0.0.1",
    on_ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C); `on_ready` is called once the server accepts calls."""
    with SandboxServer(config, host, port) as server:
        if on_ready is not None:
            on_ready(server)
        with suppress(KeyboardInterrupt):
            server.wait()
