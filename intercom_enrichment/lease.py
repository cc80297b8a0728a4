"""One writer per window: a lease beside the window's manifest, ``_runs/<window-key>.lease``.

A run takes the lease before it stages anything and gives it back after publication (or abort).
The lease is created atomically — ``O_CREAT|O_EXCL`` on local disk; on object stores a
conditional put (``If-None-Match: *`` on S3's ``PutObject``, through s3fs' ``mode="create"``),
and on a filesystem that has neither, an existence check followed by a put (best available,
not atomic) — and holds the run id, host, process id and an expiry. While the run works, a
heartbeat thread renews the expiry every third of ``INTERCOM_LEASE_SECONDS`` (default 600).

A second run of the same window and output waits up to ``INTERCOM_LEASE_WAIT`` seconds (default
0) and then refuses with ``WindowBusy`` (one line, exit 1). A lease is stale, and is taken over,
when it has expired (its run was killed or hangs) or when it names a process of this host that no
longer exists (a killed run is then replaced at once). The new holder removes the staging files
of the run it replaced, and any staging file of the window older than the lease period; it never
touches staging files of a live run.

Limits: taking over a stale lease reads it, removes it if unchanged and creates a new one; two
runs that find the same stale lease within that instant could both proceed. Renewal on object
stores overwrites after a read (no compare-and-swap).
"""

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from .errors import ConfigError, IntercomEnrichmentError
from .storage import Storage, discard_staging, host_slug, process_gone
from .windows import Window

log = logging.getLogger(__name__)

ENV_LEASE_SECONDS = "INTERCOM_LEASE_SECONDS"
ENV_LEASE_WAIT = "INTERCOM_LEASE_WAIT"
DEFAULT_LEASE_SECONDS = 600.0
DEFAULT_LEASE_WAIT = 0.0
POLL_SECONDS = 1.0
IMMEDIATE_RETRIES = 10  # per poll: after a release or a take-over, try again at once


class WindowBusy(IntercomEnrichmentError):
    """Another live run holds the window's lease."""


def lease_path(window: Window) -> str:
    return f"_runs/{window.key}.lease"


def _seconds(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {text!r}") from None
    if not minimum <= value < 10**7:
        raise ConfigError(f"{name} must be between {minimum:g} and 10^7 seconds")
    return value


def lease_settings(environ: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(lease period, wait) in seconds from the environment."""
    env = os.environ if environ is None else environ
    return (
        _seconds(env, ENV_LEASE_SECONDS, DEFAULT_LEASE_SECONDS, 5.0),
        _seconds(env, ENV_LEASE_WAIT, DEFAULT_LEASE_WAIT, 0.0),
    )


@dataclass(frozen=True)
class LeaseRecord:
    run_id: str
    token: str  # names this run's staging files
    host: str
    pid: int
    expires_at: float  # UNIX seconds

    def text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, text: str | None) -> "LeaseRecord | None":
        try:
            data = json.loads(text or "")
            return cls(
                str(data["run_id"]),
                str(data["token"]),
                str(data["host"]),
                int(data["pid"]),
                float(data["expires_at"]),
            )
        except (ValueError, TypeError, KeyError):
            return None


def _conditional_put(fs: Any) -> bool:
    """Whether ``fs.pipe_file(..., mode="create")`` is an atomic create-if-absent: s3fs sends
    ``If-None-Match: *`` (AWS S3 since 2024-08; moto; S3-compatible stores that implement it)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return bool({"s3", "s3a"} & set(protocols))


class WindowLease:
    """``with WindowLease(storage, window, run_id): ...`` — hold the window while writing it."""

    def __init__(
        self,
        storage: Storage,
        window: Window,
        run_id: str | None = None,
        *,
        seconds: float | None = None,
        wait_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        period, wait = lease_settings()
        self.storage = storage
        self.window = window
        self.seconds = period if seconds is None else seconds
        self.wait_seconds = wait if wait_seconds is None else wait_seconds
        self.token = uuid.uuid4().hex[:16]
        self.run_id = run_id or self.token
        self.clock = clock
        self.held = False
        self.lost = False
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- the lease file ----------------------------------------------------------------------

    @property
    def rel(self) -> str:
        return lease_path(self.window)

    def _record(self) -> LeaseRecord:
        return LeaseRecord(
            self.run_id, self.token, host_slug(), os.getpid(), self.clock() + self.seconds
        )

    def _create(self) -> bool:
        """Create the lease if there is none; True when this run now holds it."""
        data = self._record().text().encode()
        path = self.storage.path(self.rel)
        if self.storage.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return True
        fs = self.storage.fs
        if not _conditional_put(fs):  # the best available: check, then put (not atomic)
            fs.invalidate_cache()
            if fs.exists(path):
                return False
            fs.pipe_file(path, data)
            return True
        try:
            fs.pipe_file(path, data, mode="create")  # S3: PutObject with If-None-Match: *
        except OSError:
            fs.invalidate_cache()
            if fs.exists(path):  # 412 Precondition Failed: someone else's
                return False
            raise
        return True

    def _read(self) -> tuple[str | None, LeaseRecord | None]:
        if not self.storage.local:  # another process may have changed it: no cached listing
            self.storage.fs.invalidate_cache(self.storage.path(self.rel))
        text = self.storage.read_text(self.rel)
        return text, LeaseRecord.parse(text)

    def _stale(self, record: LeaseRecord | None, text: str | None) -> bool:
        if record is None:  # unreadable: stale once older than a lease period
            return text is not None and self._age() > self.seconds
        if record.expires_at < self.clock():
            return True
        return record.host == host_slug() and process_gone(record.pid)

    def _age(self) -> float:
        try:
            modified = self.storage.fs.modified(self.storage.path(self.rel))
        except (FileNotFoundError, NotImplementedError):
            return 0.0
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        return self.clock() - modified.timestamp()

    # -- acquire, renew, release -------------------------------------------------------------

    def acquire(self) -> "WindowLease":
        deadline = self.clock() + self.wait_seconds
        # Tries again at once (after a release or a take-over) at most IMMEDIATE_RETRIES times
        # per poll, so a lease path that exists but never reads (a dangling link) meets the
        # deadline instead of spinning.
        retries = 0
        while True:
            if self._create():
                break
            text, record = self._read()
            if retries < IMMEDIATE_RETRIES:
                retries += 1
                if text is None:
                    continue  # released between our attempt and the read: try again
                if self._stale(record, text):
                    self._take_over(text, record)
                    continue
            if self.clock() >= deadline:
                holder = record.run_id if record else "another run"
                until = (
                    datetime.fromtimestamp(record.expires_at, UTC).isoformat(timespec="seconds")
                    if record
                    else "unknown"
                )
                raise WindowBusy(
                    f"window {self.window.key} is being written to {self.storage.url} by run "
                    f"{holder} (lease until {until}); try again when it has finished"
                )
            self._stop.wait(min(POLL_SECONDS, max(deadline - self.clock(), 0.0)))
            retries = 0
        self.held = True
        discard_staging(self.storage, self._window_rels(), older_than=self.seconds)
        self._heartbeat = threading.Thread(
            target=self._renew_loop, name=f"lease-{self.window.key}", daemon=True
        )
        self._heartbeat.start()
        return self

    def _take_over(self, text: str, record: LeaseRecord | None) -> None:
        again, _ = self._read()
        if again != text:
            return  # changed meanwhile: look again
        log.warning(
            "taking over the stale lease of window %s (run %s)",
            self.window.key,
            record.run_id if record else "unknown",
        )
        with contextlib.suppress(FileNotFoundError):
            self.storage.fs.rm(self.storage.path(self.rel))
        if record is not None:
            discard_staging(self.storage, self._window_rels(), tag=record.token)

    def _window_rels(self) -> list[str]:
        from .writer import window_paths  # the writer names the window's files

        return window_paths(self.window)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except Exception as exc:  # a renewal that fails is retried at the next beat
                log.warning("could not renew the lease of window %s: %s", self.window.key, exc)

    def renew(self) -> None:
        _, record = self._read()
        if record is None or record.token != self.token:
            self.lost = True
            return
        self._put(self._record().text().encode())

    def _put(self, data: bytes) -> None:
        """Overwrite the lease (renewal): atomically replaced locally, one put elsewhere."""
        path = self.storage.path(self.rel)
        if self.storage.local:
            staged = f"{path}.{self.token}.tmp"
            with open(staged, "wb") as fh:
                fh.write(data)
            os.replace(staged, path)
        else:
            self.storage.fs.pipe_file(path, data)

    def ensure_held(self) -> None:
        """Raise ``WindowBusy`` if the lease was lost (expired and taken by another run)."""
        if not self.held:
            return
        _, record = self._read()
        if self.lost or record is None or record.token != self.token:
            self.lost = True
            raise WindowBusy(
                f"the lease of window {self.window.key} expired and another run took it; "
                f"nothing was published by this run (raise {ENV_LEASE_SECONDS}?)"
            )

    def release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5)
            self._heartbeat = None
        if not self.held:
            return
        self.held = False
        with contextlib.suppress(OSError):
            _, record = self._read()
            if record is not None and record.token == self.token:
                self.storage.fs.rm(self.storage.path(self.rel))

    def __enter__(self) -> "WindowLease":
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
