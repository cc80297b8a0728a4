"""Streaming, all-or-nothing Parquet output of one window, and its run manifest.

Layout and rules: docs/data-contract.md. A writer holds the window's lease
(``lease.py``) from its creation until it has published or aborted, so one run at a time writes a
window; its staging files carry the lease's token. Batches are appended as row groups to one
staged file per (table, partition); ``publish`` then (1) replaces the window's manifest with a
``publishing`` marker (atomically, never deleting it first), so an interrupted publication never
looks complete, (2) publishes every file, (3) removes every other file of this window, of every
table — a partition that became empty, a table this run did not write — so the window's files are
exactly those the new manifest lists, (4) writes the manifest last. The manifest is the completion
marker that backfills trust.
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_enrichment.layout import (
    MANIFEST_DIR,
    WINDOW_KEY,
    data_path,
    lease_path,
    manifest_path,
    quarantine_path,
    window_file_pattern,
)
from intercom_enrichment.limits import LEASE_WAIT
from intercom_enrichment.objects.common import to_table
from intercom_enrichment.objects.declaration import Table
from intercom_enrichment.objects.registry import TABLES
from intercom_enrichment.windows import Window

from .lease import Lease, LeaseBusy
from .storage import Storage, discard_staging


@dataclass
class BatchRecords:
    """Rows of one batch, by table name (``objects.registry.TABLES``), plus the records that
    failed validation.

    Its ``repr`` counts rows and shows none: rows hold people's data, and a repr can reach a log
    or an error message. It is also cheap: Python 3.11's ``asyncio.Runner`` formats the repr of
    each finished main task's result (``signal.getsignal`` on its SIGINT handler), which took
    1.75 s of S1's plain pipeline while it printed every row (py-spy, ``benchmarks.phases``).
    """

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    carried: Any = None  # contacts later batches reuse (a ContactLookup); not written

    def __repr__(self) -> str:
        rows = {table: len(rows) for table, rows in self.rows.items()}
        return f"BatchRecords(rows={rows}, quarantine={len(self.quarantine)})"

    def of(self, table: str) -> list[dict[str, Any]]:
        """The rows of ``table`` (a list this batch appends to)."""
        return self.rows.setdefault(table, [])

    def release(self) -> None:
        """Drop the rows, once written. A task runner may hold on to a task's result: Prefect
        3.9's future and the future it wraps refer to each other (a done-callback), so a
        finished batch's state, and these rows with it, stayed until the next full collection
        (``gc.DEBUG_SAVEALL`` in S1: 44,000–78,000 objects each time ``release_memory`` ran,
        0.09–0.16 s each). Released, they are freed at once."""
        self.rows = {}
        self.quarantine = []
        self.carried = None


WINDOW_FILE = window_file_pattern(tuple(TABLES))  # a window file: its table and key


@dataclass(frozen=True)
class WrittenFile:
    table: str
    path: str  # relative to the output root
    rows: int


def read_manifest(storage: Storage, window: Window) -> dict[str, Any] | None:
    text = storage.read_text(manifest_path(window))
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def data_paths(window: Window) -> list[str]:
    """Every data file a window may own, of every table and day."""
    return [data_path(window, t, day) for t in TABLES for day in window.dates()]


def window_paths(window: Window) -> list[str]:
    """Every file a window may own, of every table: what a rerun replaces or removes."""
    return [*data_paths(window), manifest_path(window), quarantine_path(window)]


def window_files(storage: Storage, table: str, keys: set[str] | None = None) -> list[str]:
    """The published files of ``table`` of the windows ``keys`` (every window: None; relative
    paths), found by a listing: while a window's manifest is unchanged, its files are those it
    lists (the writer publishes files only after replacing the manifest by its ``publishing``
    marker)."""
    if keys is not None and not keys:
        return []
    pattern = storage.path(f"{table}/*/*.parquet")
    root = storage.path("")
    found = []
    for path in sorted(storage.fs.glob(pattern)):
        rel = str(path)[len(root) :]
        match = WINDOW_FILE.match(rel)
        if match and match.group(1) == table and (keys is None or match.group(2) in keys):
            found.append(rel)
    return found


def manifest_fingerprints(storage: Storage) -> dict[str, str]:
    """Every window manifest under ``_runs/``: key → fingerprint of its listing entry."""
    try:
        entries = storage.fs.ls(storage.path(MANIFEST_DIR), detail=True)
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        name = Path(str(entry.get("name"))).name
        key = name.removesuffix(".json")
        if key == name or not WINDOW_KEY.match(key) or entry.get("type") == "directory":
            continue
        stamp = entry.get("mtime") or entry.get("LastModified") or entry.get("last_modified")
        found[key] = f"{entry.get('size')}:{stamp}:{entry.get('ino', '')}:{entry.get('ETag', '')}"
    return found


def window_completed(storage: Storage, window: Window) -> bool:
    manifest = read_manifest(storage, window)
    return bool(manifest and manifest.get("status") == "completed")


class WindowBusy(LeaseBusy):
    """Another live run holds the window's lease."""


class WindowLease(Lease):
    """The lease of one window (``_runs/<window-key>.lease``): its holder owns the staging files
    of every file the window may have (``window_paths``)."""

    busy = WindowBusy

    def __init__(
        self,
        storage: Storage,
        window: Window,
        run_id: str | None = None,
        *,
        seconds: float | None = None,
        wait_seconds: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        super().__init__(
            storage,
            lease_path(window),
            f"window {window.key}",
            run_id,
            guarded=window_paths(window),
            seconds=seconds,
            wait_seconds=LEASE_WAIT.value() if wait_seconds is None else wait_seconds,
            **extra,
        )
        self.window = window


class WindowWriter:
    def __init__(
        self,
        storage: Storage,
        window: Window,
        tables: Iterable[str],
        *,
        run_id: str | None = None,
    ) -> None:
        """Takes the window's lease (``WindowBusy`` if another live run holds it)."""
        self.storage = storage
        self.window = window
        self.tables = list(tables)
        self.lease = WindowLease(storage, window, run_id).acquire()
        self._open: dict[str, tuple[pq.ParquetWriter, str]] = {}  # rel path → (writer, staged)
        self._rows: dict[str, int] = {}
        self._quarantine: list[str] = []
        self._seen: dict[str, set[tuple[Any, ...]]] = {}  # keys of once-per-window tables

    def file_path(self, table: str, day: date) -> str:
        return data_path(self.window, table, day)

    def append(self, records: BatchRecords) -> None:
        """Append a batch's rows, each table's to the partition its declaration says
        (``Table.day``): a parent's rows first, so that children find their parent's day."""
        day_of: dict[str, dict[Any, date]] = {}  # table → key → day of its rows in this batch
        by_file: dict[tuple[str, date], list[dict[str, Any]]] = {}
        for name in sorted(records.rows, key=lambda n: TABLES[n].parent is not None):
            table = TABLES[name]
            if name not in self.tables:
                continue
            rows = self._first_of_window(table, records.rows[name])
            days = day_of.setdefault(name, {})
            for row in rows:
                day = self._day(table, row, day_of)
                days[row[table.key[0]]] = day
                by_file.setdefault((name, day), []).append(row)
        for (name, day), rows in by_file.items():
            self._write(self.file_path(name, day), to_table(rows, TABLES[name].schema))
        self._quarantine.extend(
            json.dumps(q, sort_keys=True, default=str) for q in records.quarantine
        )

    def _first_of_window(self, table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not table.once_per_window:
            return rows
        seen = self._seen.setdefault(table.name, set())
        first = []
        for row in rows:
            key = tuple(row[k] for k in table.key)
            if key not in seen:
                seen.add(key)
                first.append(row)
        return first

    def _day(self, table: Table, row: dict[str, Any], day_of: dict[str, dict[Any, date]]) -> date:
        if table.day == "updated_at":
            day: date = row["updated_at"].date()
            return day
        if table.day == "parent" and table.parent is not None:
            parent_day = day_of.get(table.parent, {}).get(row[table.key[0]])
            if parent_day is not None:
                return parent_day
        return self.window.start.date()

    def _write(self, rel: str, table: pa.Table) -> None:
        if rel not in self._open:
            staged = self.storage.staging_path(rel, self.lease.token)
            self._open[rel] = (pq.ParquetWriter(staged, table.schema, compression="zstd"), staged)
        self._open[rel][0].write_table(table)
        self._rows[rel] = self._rows.get(rel, 0) + table.num_rows

    def _close(self) -> None:
        for writer, _ in self._open.values():
            writer.close()

    def drop(self, table: str) -> None:
        """Discard what this run has staged of ``table`` (files, row counts, keys seen): the
        window's published files of it are then kept or removed by ``publish`` as if this run
        had written none."""
        for rel in [r for r in self._open if r.split("/", 1)[0] == table]:
            writer, staged = self._open.pop(rel)
            writer.close()
            self.storage.discard(staged)
            self._rows.pop(rel, None)
        self._seen.pop(table, None)

    def abort(self) -> None:
        """Drop everything staged and give the lease back; published files stay as they were."""
        try:
            self._discard_staged()
        finally:
            self.lease.release()

    def _discard_staged(self) -> None:
        """This run's staging files (its lease token names them), published or not."""
        self._close()
        for _, staged in self._open.values():
            self.storage.discard(staged)
        self._open.clear()
        discard_staging(self.storage, window_paths(self.window), tag=self.lease.token)

    def publish(
        self, manifest: dict[str, Any], *, complete: bool = True, keep: Iterable[str] = ()
    ) -> list[WrittenFile]:
        """Publish the window; ``complete=False`` marks it for a rerun (backfills retry it).
        The window's published files of the tables ``keep`` (an object this run could not
        read) stay, listed again in the new manifest, instead of being removed."""
        try:
            self.lease.ensure_held()
            self._close()
            return self._publish(manifest, complete, set(keep))
        finally:
            self._discard_staged()  # whatever was not published (after a failure)
            self.lease.release()

    def _publish(
        self, manifest: dict[str, Any], complete: bool, keep: set[str]
    ) -> list[WrittenFile]:
        kept = [k for k in self._kept(keep) if k.path not in self._open]  # never listed twice
        marker = {"status": "publishing", "run_id": self.lease.run_id, "window": self.window.key}
        self.storage.write_text(manifest_path(self.window), json.dumps(marker), self.lease.token)
        written = []
        for rel, (_, staged) in sorted(self._open.items()):
            self.storage.publish(staged, rel)
            written.append(WrittenFile(rel.split("/", 1)[0], rel, self._rows[rel]))
            del self._open[rel]
        written += kept
        self._remove_stale({w.path for w in written})
        if self._quarantine:
            rel = quarantine_path(self.window)
            self.storage.write_text(rel, "\n".join(self._quarantine) + "\n", self.lease.token)
            written.append(WrittenFile("_quarantine", rel, len(self._quarantine)))
        else:
            self.storage.remove(quarantine_path(self.window))
        manifest = {
            **manifest,
            "status": "completed" if complete else "incomplete",
            "files": [{"table": w.table, "path": w.path, "rows": w.rows} for w in written],
        }
        self.storage.write_text(
            manifest_path(self.window),
            json.dumps(manifest, indent=2, sort_keys=True) + "\n",
            self.lease.token,
        )
        return written

    def _kept(self, tables: set[str]) -> list[WrittenFile]:
        """The files of ``tables`` the window's last manifest lists and that still exist."""
        previous = read_manifest(self.storage, self.window) if tables else None
        entries = previous.get("files") if previous else None
        if not isinstance(entries, list):
            return []
        own = set(data_paths(self.window))
        return [
            WrittenFile(e["table"], e["path"], e["rows"])
            for e in entries
            if isinstance(e, dict)
            and e.get("table") in tables
            and e.get("path") in own
            and isinstance(e.get("rows"), int)
            and self.storage.exists(e["path"])
        ]

    def _remove_stale(self, keep: set[str]) -> None:
        """Every data file of the window not written now, in every table (the rerun rule)."""
        for rel in data_paths(self.window):
            if rel not in keep:
                self.storage.remove(rel)
