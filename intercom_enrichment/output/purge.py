"""Deleted conversations disappear everywhere: purge their rows from every window file.

A window run reads the deleted conversations (``objects/deletions.py``), never writes them
itself, and then calls ``purge_deleted``: for each deleted id not purged before, every window
file of the object's tables (``conversations``, ``conversation_parts``) that still holds it is
rewritten without it, under that window's lease (``WindowLease``: one writer per window), by
the writer's own protocol — the manifest first replaced by a ``publishing`` marker, each file
staged and published in one step (a file left with no row is removed), the manifest rewritten
last with its files' new row counts and what was purged. A reader never sees a half-rewritten
file; a purge killed half-way leaves a ``publishing`` manifest that the backfill redoes and the
next purge finishes. The refresh finds the purged windows' manifests changed: their rows leave
``current/`` and the marts (``marts/``: stale windows).

Which ids are purged is recorded in ``_runs/_purged.json`` (per table, sorted ids), written
after every affected window was purged: a window whose lease is held by a live run is left for
the next purge, so its ids stay to do. Finding the files reads only the key column of each
window file.
"""

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_enrichment.layout import MANIFEST_DIR, manifest_path, parse_window_key
from intercom_enrichment.objects.declaration import Table
from intercom_enrichment.windows import Window

from .lease import LeaseBusy
from .storage import Storage
from .writer import WindowLease, read_manifest, window_files

log = logging.getLogger(__name__)

STATE = f"{MANIFEST_DIR}/_purged.json"
STATE_VERSION = 1


@dataclass
class PurgeResult:
    ids: int = 0  # deleted ids not purged before
    windows: list[str] = field(default_factory=list)  # windows rewritten
    rows: dict[str, int] = field(default_factory=dict)  # rows removed, by table
    busy: list[str] = field(default_factory=list)  # windows left for the next purge

    @property
    def complete(self) -> bool:
        return not self.busy


def _state(storage: Storage) -> dict[str, set[str]]:
    text = storage.read_text(STATE)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {}
    purged = data.get("purged")
    return {
        table: {i for i in ids if isinstance(i, str)}
        for table, ids in (purged.items() if isinstance(purged, dict) else [])
        if isinstance(table, str) and isinstance(ids, list)
    }


def _write_state(storage: Storage, state: dict[str, set[str]]) -> None:
    body = {"version": STATE_VERSION, "purged": {t: sorted(ids) for t, ids in state.items()}}
    storage.write_text(STATE, json.dumps(body, indent=1, sort_keys=True) + "\n")


def _holding(storage: Storage, rels: Iterable[str], key: str, ids: pa.Array) -> list[str]:
    """The files among ``rels`` that hold a row whose ``key`` is in ``ids`` (reading only that
    column of each)."""
    found = []
    for rel in rels:
        column = pq.read_table(storage.path(rel), columns=[key], filesystem=storage.fs)[key]
        if pc.any(pc.is_in(column, value_set=ids)).as_py():
            found.append(rel)
    return found


def purge_deleted(storage: Storage, tables: Sequence[Table], ids: Iterable[str]) -> PurgeResult:
    """Remove the rows of ``ids`` (values of each table's ``key[0]``) from every window file of
    ``tables`` that holds them; see the module docstring."""
    state = _state(storage)
    key = tables[0].key[0]
    todo = {t.name: set(ids) - state.get(t.name, set()) for t in tables}
    result = PurgeResult(ids=len(set().union(*todo.values())))
    if not result.ids:
        return result
    affected: dict[str, dict[str, list[str]]] = {}  # window key → table → files
    for table in tables:
        wanted = pa.array(sorted(todo[table.name]), pa.string())
        for rel in _holding(storage, window_files(storage, table.name), key, wanted):
            window = rel.rsplit("/", 1)[1].removesuffix(".parquet")
            affected.setdefault(window, {}).setdefault(table.name, []).append(rel)
    gone = pa.array(sorted(set().union(*todo.values())), pa.string())
    for window_key, files in sorted(affected.items()):
        try:
            removed = _purge_window(storage, window_key, files, key, gone)
        except LeaseBusy:
            log.warning("window %s is being written: its deleted rows wait", window_key)
            result.busy.append(window_key)
            continue
        result.windows.append(window_key)
        for name, n in removed.items():
            result.rows[name] = result.rows.get(name, 0) + n
    if result.complete:
        _write_state(storage, {t.name: state.get(t.name, set()) | todo[t.name] for t in tables})
    return result


def _purge_window(
    storage: Storage, key: str, files: dict[str, list[str]], column: str, gone: pa.Array
) -> dict[str, int]:
    """Rewrite one window's ``files`` without the rows of ``gone``, under its lease."""
    bounds = parse_window_key(key)
    if bounds is None:  # window_files matched the key pattern: cannot happen
        raise ValueError(f"not a window key: {key}")
    window = Window(*bounds)
    removed: dict[str, int] = {}
    with WindowLease(storage, window, f"purge of {key}") as lease:
        manifest = read_manifest(storage, window) or {}
        marker = {"status": "publishing", "run_id": lease.run_id, "window": key}
        storage.write_text(manifest_path(window), json.dumps(marker), lease.token)
        rows: dict[str, int | None] = {}
        for table, rels in files.items():
            for rel in rels:
                data = pq.read_table(storage.path(rel), filesystem=storage.fs)
                kept = data.filter(pc.invert(pc.is_in(data[column], value_set=gone)))
                removed[table] = removed.get(table, 0) + data.num_rows - kept.num_rows
                if kept.num_rows:
                    staged = storage.staging_path(rel, lease.token)
                    pq.write_table(kept, staged, compression="zstd")
                    storage.publish(staged, rel)
                    rows[rel] = kept.num_rows
                else:
                    storage.remove(rel)
                    rows[rel] = None
        lease.ensure_held()
        storage.write_text(
            manifest_path(window), _purged_manifest(manifest, rows, removed), lease.token
        )
    return removed


def _purged_manifest(
    manifest: dict[str, Any], rows: dict[str, int | None], removed: dict[str, int]
) -> str:
    listed = manifest.get("files")
    entries: list[Any] = listed if isinstance(listed, list) else []
    files = []
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else None
        if path in rows:
            if rows[path] is None:
                continue
            entry = {**entry, "rows": rows[path]}
        files.append(entry)
    before = manifest.get("purged")
    purged: dict[str, Any] = before if isinstance(before, dict) else {}
    totals = {t: int(purged.get(t, 0)) + n for t, n in removed.items()}
    body = {
        **manifest,
        "files": files,
        "purged": {**purged, **totals, "at": datetime.now(UTC).isoformat()},
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"
