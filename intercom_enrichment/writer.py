"""Streaming, all-or-nothing Parquet output of one window, and its run manifest.

Layout and rules: docs/data-contract.md. Batches are appended as row groups to one
staged file per (table, partition); ``publish`` then (1) removes the window's manifest, so an
interrupted publication never looks complete, (2) publishes every file, (3) removes files of this
window that the run did not write again (a partition that became empty), (4) writes the manifest
last. The manifest is the completion marker that backfills trust.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .schema import TABLES, to_table
from .storage import Storage
from .windows import Window

MANIFEST_DIR = "_runs"
QUARANTINE_DIR = "_quarantine"


@dataclass
class BatchRecords:
    """Rows of one batch, by table, plus the records that failed validation."""

    conversations: list[dict[str, Any]] = field(default_factory=list)
    conversation_parts: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    carried: Any = None  # contacts later batches reuse (a ContactLookup); not written


@dataclass(frozen=True)
class WrittenFile:
    table: str
    path: str  # relative to the output root
    rows: int


def manifest_path(window: Window) -> str:
    return f"{MANIFEST_DIR}/{window.key}.json"


def quarantine_path(window: Window) -> str:
    return f"{QUARANTINE_DIR}/{window.key}.jsonl"


def read_manifest(storage: Storage, window: Window) -> dict[str, Any] | None:
    text = storage.read_text(manifest_path(window))
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def window_completed(storage: Storage, window: Window) -> bool:
    manifest = read_manifest(storage, window)
    return bool(manifest and manifest.get("status") == "completed")


class WindowWriter:
    def __init__(self, storage: Storage, window: Window, tables: Iterable[str]) -> None:
        self.storage = storage
        self.window = window
        self.tables = list(tables)
        self._open: dict[str, tuple[pq.ParquetWriter, str]] = {}  # rel path → (writer, staged)
        self._rows: dict[str, int] = {}
        self._quarantine: list[str] = []
        self._contacts_seen: set[str] = set()  # a merged id and its canonical: one row
        for rel in self._window_files():
            storage.discard_stale(rel)

    def file_path(self, table: str, day: date) -> str:
        return f"{table}/updated_date={day.isoformat()}/{self.window.key}.parquet"

    def append(self, records: BatchRecords) -> None:
        day_of: dict[str, date] = {}
        by_file: dict[str, list[dict[str, Any]]] = {}
        for row in records.conversations:
            day = row["updated_at"].date()
            day_of[row["conversation_id"]] = day
            by_file.setdefault(self.file_path("conversations", day), []).append(row)
        if "conversation_parts" in self.tables:
            for row in records.conversation_parts:
                day = day_of.get(row["conversation_id"], self.window.start.date())
                by_file.setdefault(self.file_path("conversation_parts", day), []).append(row)
        contacts = [c for c in records.contacts if c["contact_id"] not in self._contacts_seen]
        self._contacts_seen.update(c["contact_id"] for c in contacts)
        if contacts:
            by_file[self.file_path("contacts", self.window.start.date())] = contacts
        for rel, rows in by_file.items():
            self._write(rel, to_table(rows, TABLES[rel.split("/", 1)[0]]))
        self._quarantine.extend(
            json.dumps(q, sort_keys=True, default=str) for q in records.quarantine
        )

    def _write(self, rel: str, table: pa.Table) -> None:
        if rel not in self._open:
            staged = self.storage.staging_path(rel)
            self._open[rel] = (pq.ParquetWriter(staged, table.schema, compression="zstd"), staged)
        self._open[rel][0].write_table(table)
        self._rows[rel] = self._rows.get(rel, 0) + table.num_rows

    def _close(self) -> None:
        for writer, _ in self._open.values():
            writer.close()

    def abort(self) -> None:
        """Drop everything staged; published files stay as they were."""
        self._close()
        for _, staged in self._open.values():
            self.storage.discard(staged)
        self._open.clear()

    def publish(self, manifest: dict[str, Any], *, complete: bool = True) -> list[WrittenFile]:
        """Publish the window; ``complete=False`` marks it for a rerun (backfills retry it)."""
        self._close()
        self.storage.remove(manifest_path(self.window))
        written = []
        for rel, (_, staged) in sorted(self._open.items()):
            self.storage.publish(staged, rel)
            written.append(WrittenFile(rel.split("/", 1)[0], rel, self._rows[rel]))
        self._open.clear()
        self._remove_stale({w.path for w in written})
        if self._quarantine:
            rel = quarantine_path(self.window)
            self.storage.write_text(rel, "\n".join(self._quarantine) + "\n")
            written.append(WrittenFile("_quarantine", rel, len(self._quarantine)))
        else:
            self.storage.remove(quarantine_path(self.window))
        manifest = {
            **manifest,
            "status": "completed" if complete else "incomplete",
            "files": [{"table": w.table, "path": w.path, "rows": w.rows} for w in written],
        }
        self.storage.write_text(
            manifest_path(self.window), json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        )
        return written

    def _data_files(self) -> list[str]:
        """Every Parquet file this window may own in the tables being written."""
        return [self.file_path(t, day) for t in self.tables for day in self.window.dates()]

    def _window_files(self) -> list[str]:
        return [*self._data_files(), manifest_path(self.window), quarantine_path(self.window)]

    def _remove_stale(self, keep: set[str]) -> None:
        for rel in self._data_files():
            if rel not in keep:
                self.storage.remove(rel)
