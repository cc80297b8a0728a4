"""One writer at a time: a lease file beside what it guards. One implementation, two users —
a window's writer (``_runs/<window-key>.lease``, writer.py) and the refresh of ``current/`` and
``marts/`` (``current/_refresh.lease``, marts/runner.py) — on local disk and object stores alike.

A writer takes the lease before it stages anything and gives it back when it has published (or
aborted). The lease is created atomically — ``O_CREAT|O_EXCL`` on local disk; on object stores
a conditional put (``If-None-Match: *`` on S3's ``PutObject``, through s3fs' ``mode="create"``),
and on a filesystem that has neither, an existence check followed by a put (best available,
not atomic) — and holds the run id, host, process id, the process's scope (boot id and pid
namespace: liveness.py) and an expiry. While the writer works, a heartbeat thread renews the
expiry every third of ``INTERCOM_LEASE_SECONDS`` (default 600).

A second writer waits up to its wait bound (``INTERCOM_LEASE_WAIT`` for a window, default 0;
``INTERCOM_REFRESH_WAIT`` for the refresh, default 600) and then refuses with ``LeaseBusy``
(one line, exit 1). A lease is stale, and is taken over, when it has expired (its writer was
killed or hangs) or when it names a process that is known to be gone: same host, same boot and
pid namespace, no such pid (a killed run is then replaced at once). A pid seen from another pid
namespace proves nothing: such a lease ends by expiry alone. The new holder removes the staging
files of the writer it replaced, and any staging file of what it guards older than the lease
period; it never touches staging files of a live writer.

Limits: taking over a stale lease reads it, removes it if unchanged and creates a new one; two
writers that find the same stale lease within that instant could both proceed. Renewal on object
stores overwrites after a read (no compare-and-swap).
"""

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from intercom_enrichment.errors import IntercomEnrichmentError
from intercom_enrichment.limits import LEASE_SECONDS

from .liveness import host_slug, pid_scope, seen_gone
from .storage import Storage, discard_staging

log = logging.getLogger(__name__)

# Holders that keep a lease for seconds (a purge of deleted rows, output/purge.py): a writer
# that finds one waits up to BRIEF_WAIT seconds, whatever its own wait, rather than fail.
BRIEF_HOLDERS = ("purge:",)
BRIEF_WAIT = 120.0

POLL_SECONDS = 1.0
IMMEDIATE_RETRIES = 10  # per poll: after a release or a take-over, try again at once


class LeaseBusy(IntercomEnrichmentError):
    """Another live writer holds the lease."""


@dataclass(frozen=True)
class LeaseRecord:
    run_id: str
    token: str  # names this writer's staging files
    host: str
    pid: int
    expires_at: float  # UNIX seconds
    scope: str = ""  # boot id and pid namespace of ``pid`` ("" where unknown: expiry only)

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
                str(data.get("scope") or ""),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def _conditional_put(fs: Any) -> bool:
    """Whether ``fs.pipe_file(..., mode="create")`` is an atomic create-if-absent: s3fs sends
    ``If-None-Match: *`` (AWS S3 since 2024-08; moto; S3-compatible stores that implement it)."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return bool({"s3", "s3a"} & set(protocols))


class Lease:
    """``with Lease(storage, rel, what, run_id): ...`` — hold ``what`` while writing it.

    ``guarded``: the files whose staging files belong to the holder (removed when a dead
    holder's lease is taken over). ``busy``: the error a refusal raises.
    """

    busy: type[LeaseBusy] = LeaseBusy

    def __init__(
        self,
        storage: Storage,
        rel: str,
        what: str,
        run_id: str | None = None,
        *,
        guarded: Sequence[str] = (),
        wait_seconds: float = 0.0,
        seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.rel = rel
        self.what = what
        self.guarded = list(guarded)
        self.seconds = LEASE_SECONDS.value() if seconds is None else seconds
        self.wait_seconds = wait_seconds
        self.token = uuid.uuid4().hex[:16]
        self.run_id = run_id or self.token
        self.clock = clock
        self.held = False
        self.lost = False
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- the lease file ----------------------------------------------------------------------

    def _record(self) -> LeaseRecord:
        return LeaseRecord(
            self.run_id,
            self.token,
            host_slug(),
            os.getpid(),
            self.clock() + self.seconds,
            pid_scope(),
        )

    def _create(self) -> bool:
        """Create the lease if there is none; True when this writer now holds it."""
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
        except FileExistsError:  # 412 Precondition Failed: someone else's
            return False
        except OSError:
            fs.invalidate_cache()
            if fs.exists(path):  # a store that words the refusal otherwise
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
        return seen_gone(record.host, record.scope, record.pid)

    def _age(self) -> float:
        try:
            modified = self.storage.fs.modified(self.storage.path(self.rel))
        except (FileNotFoundError, NotImplementedError):
            return 0.0
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        return self.clock() - modified.timestamp()

    # -- acquire, renew, release -------------------------------------------------------------

    def refusal(self, record: LeaseRecord | None) -> str:
        holder = record.run_id if record else "another run"
        until = (
            datetime.fromtimestamp(record.expires_at, UTC).isoformat(timespec="seconds")
            if record
            else "unknown"
        )
        return (
            f"{self.what} is being written to {self.storage.url} by run {holder} (lease until "
            f"{until}); try again when it has finished"
        )

    def acquire(self) -> "Lease":
        began = self.clock()
        deadline = began + self.wait_seconds
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
            if record is not None and record.run_id.startswith(BRIEF_HOLDERS):
                deadline = max(deadline, began + BRIEF_WAIT)  # a purge: seconds, not a run
            if self.clock() >= deadline:
                raise self.busy(self.refusal(record))
            self._stop.wait(min(POLL_SECONDS, max(deadline - self.clock(), 0.0)))
            retries = 0
        self.held = True
        discard_staging(self.storage, self.guarded, older_than=self.seconds)
        self._heartbeat = threading.Thread(
            target=self._renew_loop, name=f"lease-{self.rel}", daemon=True
        )
        self._heartbeat.start()
        return self

    def _take_over(self, text: str, record: LeaseRecord | None) -> None:
        again, _ = self._read()
        if again != text:
            return  # changed meanwhile: look again
        log.warning(
            "taking over the stale lease of %s (run %s)",
            self.what,
            record.run_id if record else "unknown",
        )
        with contextlib.suppress(FileNotFoundError):
            self.storage.fs.rm(self.storage.path(self.rel))
        if record is not None:
            discard_staging(self.storage, self.guarded, tag=record.token)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                self.renew()
            except Exception as exc:  # a renewal that fails is retried at the next beat
                log.warning("could not renew the lease of %s: %s", self.what, exc)

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
        """Raise ``busy`` if the lease was lost (expired and taken by another writer)."""
        if not self.held:
            return
        _, record = self._read()
        if self.lost or record is None or record.token != self.token:
            self.lost = True
            raise self.busy(
                f"the lease of {self.what} expired and another run took it; nothing more was "
                f"published by this run (raise {LEASE_SECONDS.env}?)"
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

    def __enter__(self) -> "Lease":
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
