"""Deleted conversations disappear everywhere: purge their rows from every window file.

A window run reads the deleted conversations (``objects/deletions.py``), never writes them
itself, and then calls ``purge_deleted``: every window file of the object's tables
(``conversations``, ``conversation_parts``) and every quarantine line of its kinds that holds a
deleted id is rewritten without it, under that window's lease (``WindowLease``: one writer per
window), by the writer's own protocol: the affected files are found and staged under the lease;
then the manifest is replaced by a ``publishing`` marker, each file published in one step (a
file left with no row is removed), and the manifest written last with its files' new row counts
and what was purged. A reader never sees a half-rewritten file; a purge that fails puts the
previous manifest back, and one killed after its marker leaves a ``publishing`` manifest that a
backfill redoes, as for any interrupted publication. The refresh finds the purged windows'
manifests changed: their rows leave ``current/`` and the marts (``marts/``: stale windows).

What was checked is recorded in ``_runs/_purged.json``: the deleted ids purged (``purged``)
and, per window, the manifest fingerprint it had when it was found free of them (``scanned``).
A window whose manifest is unchanged since is searched only for ids deleted since; a window
published or changed since — a run that listed before a deletion and published after a purge
— is searched for every deleted id. Windows another run holds, and windows rewritten now, are
not recorded: the next purge searches them again. Searching reads only the key column of a
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

from intercom_enrichment.layout import (
    MANIFEST_DIR,
    manifest_path,
    parse_window_key,
    quarantine_path,
)
from intercom_enrichment.objects.declaration import Table
from intercom_enrichment.windows import Window

from .lease import BRIEF_HOLDERS, LeaseBusy
from .storage import Storage
from .writer import WindowLease, manifest_fingerprints, window_files

log = logging.getLogger(__name__)

STATE = f"{MANIFEST_DIR}/_purged.json"
STATE_VERSION = 2
HOLDER = BRIEF_HOLDERS[0]  # a purge's lease holder: a window run waits longer for it


@dataclass
class PurgeResult:
    ids: int = 0  # deleted ids searched for
    windows: list[str] = field(default_factory=list)  # windows rewritten
    rows: dict[str, int] = field(default_factory=dict)  # rows removed, by table
    busy: list[str] = field(default_factory=list)  # windows left for the next purge


@dataclass
class _State:
    purged: set[str] = field(default_factory=set)
    scanned: dict[str, str] = field(default_factory=dict)  # window key → manifest fingerprint


def _load(storage: Storage) -> _State:
    text = storage.read_text(STATE)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return _State()
    purged, scanned = data.get("purged"), data.get("scanned")
    return _State(
        {i for i in purged if isinstance(i, str)} if isinstance(purged, list) else set(),
        {k: v for k, v in scanned.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(scanned, dict)
        else {},
    )


def _save(storage: Storage, state: _State) -> None:
    body = {
        "version": STATE_VERSION,
        "purged": sorted(state.purged),
        "scanned": dict(sorted(state.scanned.items())),
    }
    storage.write_text(STATE, json.dumps(body, indent=1) + "\n")


def _holds(storage: Storage, rel: str, key: str, ids: pa.Array) -> bool:
    column = pq.read_table(storage.path(rel), columns=[key], filesystem=storage.fs)[key]
    return bool(pc.any(pc.is_in(column, value_set=ids)).as_py())


def _quarantined(storage: Storage, window: Window, kinds: set[str], ids: set[str]) -> bool:
    text = storage.read_text(quarantine_path(window))
    return any(_gone_line(line, kinds, ids) for line in (text or "").splitlines())


def _gone_line(line: str, kinds: set[str], ids: set[str]) -> bool:
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and entry.get("kind") in kinds and entry.get("id") in ids


def purge_deleted(
    storage: Storage, tables: Sequence[Table], ids: Iterable[str], kinds: Iterable[str] = ()
) -> PurgeResult:
    """Remove the rows of ``ids`` (values of each table's ``key[0]``) from every window file of
    ``tables``, and the quarantine lines of ``kinds`` naming them; see the module docstring."""
    gone = set(ids)
    result = PurgeResult(ids=len(gone))
    if not gone:
        return result
    key = tables[0].key[0]
    kinds = {*kinds, *(t.name for t in tables)}
    state = _load(storage)
    fingerprints = manifest_fingerprints(storage)  # before anything is read
    new = gone - state.purged
    affected: set[str] = set()
    for window_key, fingerprint in sorted(fingerprints.items()):
        wanted = new if state.scanned.get(window_key) == fingerprint else gone
        if wanted and _affected(storage, window_key, tables, key, kinds, wanted):
            affected.add(window_key)
    for window_key in sorted(affected):
        try:
            removed = _purge_window(storage, window_key, tables, key, kinds, gone)
        except LeaseBusy:
            log.warning("window %s is being written: its deleted rows wait", window_key)
            result.busy.append(window_key)
            continue
        result.windows.append(window_key)
        for name, n in removed.items():
            result.rows[name] = result.rows.get(name, 0) + n
    clean = {k: fp for k, fp in fingerprints.items() if k not in affected}
    _save(storage, _State(gone, clean))
    return result


def _affected(
    storage: Storage,
    window_key: str,
    tables: Sequence[Table],
    key: str,
    kinds: set[str],
    ids: set[str],
) -> bool:
    wanted = pa.array(sorted(ids), pa.string())
    for table in tables:
        for rel in window_files(storage, table.name, {window_key}):
            if _holds(storage, rel, key, wanted):
                return True
    bounds = parse_window_key(window_key)
    return bounds is not None and _quarantined(storage, Window(*bounds), kinds, ids)


def _purge_window(
    storage: Storage,
    window_key: str,
    tables: Sequence[Table],
    column: str,
    kinds: set[str],
    gone: set[str],
) -> dict[str, int]:
    """Rewrite one window without the rows of ``gone``, under its lease: what is affected is
    found again under the lease (another purge or run may have changed the window)."""
    bounds = parse_window_key(window_key)
    if bounds is None:  # window_files matched the key pattern: cannot happen
        raise ValueError(f"not a window key: {window_key}")
    window = Window(*bounds)
    removed: dict[str, int] = {}
    ids = pa.array(sorted(gone), pa.string())
    with WindowLease(storage, window, f"{HOLDER}{window_key}") as lease:
        staged: dict[str, str | None] = {}  # rel → staged file (None: remove)
        rows: dict[str, int | None] = {}
        for table in tables:
            for rel in window_files(storage, table.name, {window_key}):
                data = pq.read_table(storage.path(rel), filesystem=storage.fs)
                kept = data.filter(pc.invert(pc.is_in(data[column], value_set=ids)))
                if kept.num_rows == data.num_rows:
                    continue
                removed[table.name] = removed.get(table.name, 0) + data.num_rows - kept.num_rows
                staged[rel] = None
                if kept.num_rows:
                    staged[rel] = storage.staging_path(rel, lease.token)
                    pq.write_table(kept, staged[rel], compression="zstd")
                rows[rel] = kept.num_rows or None
        quarantine = storage.read_text(quarantine_path(window))
        lines = (quarantine or "").splitlines()
        kept_lines = [line for line in lines if not _gone_line(line, kinds, gone)]
        if not staged and len(kept_lines) == len(lines):
            return removed
        before = storage.read_text(manifest_path(window))
        manifest = _manifest(before)
        marker = {"status": "publishing", "run_id": lease.run_id, "window": window_key}
        try:
            storage.write_text(manifest_path(window), json.dumps(marker), lease.token)
            for rel, local in staged.items():
                if local is None:
                    storage.remove(rel)
                else:
                    storage.publish(local, rel)
            if len(kept_lines) != len(lines):
                removed["_quarantine"] = len(lines) - len(kept_lines)
                if kept_lines:
                    text = "\n".join(kept_lines) + "\n"
                    storage.write_text(quarantine_path(window), text, lease.token)
                else:
                    storage.remove(quarantine_path(window))
            lease.ensure_held()
            body = _purged_manifest(manifest, rows, removed, len(kept_lines))
            storage.write_text(manifest_path(window), body, lease.token)
        except BaseException:
            for local in staged.values():
                if local is not None:
                    storage.discard(local)
            if before is not None:  # never leave the marker behind a failure we saw
                storage.write_text(manifest_path(window), before, lease.token)
            raise
    return removed


def _manifest(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _purged_manifest(
    manifest: dict[str, Any],
    rows: dict[str, int | None],
    removed: dict[str, int],
    quarantined: int,
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
        elif isinstance(entry, dict) and entry.get("table") == "_quarantine":
            if not quarantined:
                continue
            entry = {**entry, "rows": quarantined}
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
