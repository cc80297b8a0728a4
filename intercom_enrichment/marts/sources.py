"""What a refresh reads: published windows (by their manifests), its own state, local copies.

A window's files become visible to a refresh through its manifest ``_runs/<key>.json``, which
lists them and is written last (writer.py). Every manifest counts, ``completed`` or
``incomplete``: an incomplete window's rows are real rows (``enrichment_status=failed`` for the
conversations whose contact lookup failed) that readers of the window files see too; when the
window is rerun its manifest changes and its new rows replace them by the latest-row rule.

The refresh state ``current/_refresh.json`` records, per window key, the fingerprint of the
manifest it folded in (size, modification time and ETag from the listing); a window is folded
again exactly when its manifest changed (a rerun rewrites it). It is written after everything
else, so a refresh killed half-way folds the same windows again next time — harmless, because
folding is idempotent.
"""

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from intercom_enrichment.layout import (
    MANIFEST_DIR,
    REFRESH_STATE,
    WINDOW_KEY,
)
from intercom_enrichment.objects.registry import TABLES
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import WINDOW_FILE, manifest_fingerprints

log = logging.getLogger(__name__)

STATE_PATH = REFRESH_STATE
STATE_VERSION = 2
WINDOW_TABLES = tuple(TABLES)


@dataclass(frozen=True)
class WindowRun:
    """One published window: its key, manifest fingerprint and data files by table."""

    key: str
    fingerprint: str
    files: dict[str, tuple[str, ...]]


@dataclass
class RefreshState:
    folded: dict[str, str] = field(default_factory=dict)  # window key → manifest fingerprint
    # windows a refresh began to fold (key → fingerprint), written before it publishes
    # anything: after a crash their rows may be in current/ although they are not folded
    pending: dict[str, str] = field(default_factory=dict)
    dimensions: str | None = None  # fingerprint of the dimension snapshots last applied

    def to_json(self) -> str:
        body = {
            "version": STATE_VERSION,
            "folded": self.folded,
            "pending": self.pending,
            "dimensions": self.dimensions,
        }
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


def _keys(value: Any) -> dict[str, str]:
    return {
        k: v
        for k, v in (value.items() if isinstance(value, dict) else [])
        if isinstance(k, str) and isinstance(v, str) and WINDOW_KEY.match(k)
    }


def load_state(storage: Storage) -> RefreshState | None:
    """The last refresh's state, or None when there is none or it is unreadable or foreign
    (then nothing says which windows ``current/`` holds, and the refresh rebuilds it)."""
    text = storage.read_text(STATE_PATH)
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    dims = data.get("dimensions")
    return RefreshState(
        _keys(data.get("folded")),
        _keys(data.get("pending")),
        dims if isinstance(dims, str) else None,
    )


@dataclass(frozen=True)
class WindowChanges:
    """What changed among the published windows since the last refresh."""

    runs: list[WindowRun]  # new or changed windows whose manifest can be folded in now
    stale: list[str]  # keys folded before whose manifest changed or is gone: their rows in
    # current/ may no longer be what the window holds
    unchanged: dict[str, str]  # keys folded before and unchanged → fingerprint


def window_changes(storage: Storage, state: RefreshState) -> WindowChanges:
    """Windows whose manifest is new or changed since it was folded, and windows whose rows may
    be in ``current/`` (folded, or pending in a refresh that did not finish) but whose manifest
    changed since or went away. The fingerprint comes from the listing (size, modification
    time, ETag), so only changed manifests are read: a refresh costs no more as history
    grows."""
    listed = manifest_fingerprints(storage)
    folded = state.folded
    runs = []
    for key, fingerprint in sorted(listed.items()):
        if folded.get(key) == fingerprint:
            continue
        text = storage.read_text(f"{MANIFEST_DIR}/{key}.json")
        run = _parse(key, text, fingerprint) if text is not None else None
        if run is not None:
            runs.append(run)
    stale = sorted(
        {k for k, fp in [*folded.items(), *state.pending.items()] if listed.get(k) != fp}
    )
    unchanged = {k: fp for k, fp in folded.items() if listed.get(k) == fp and k not in stale}
    return WindowChanges(runs, stale, unchanged)


def _parse(key: str, text: str, fingerprint: str) -> WindowRun | None:
    try:
        manifest: Any = json.loads(text)
    except ValueError:
        log.warning("manifest of %s does not parse; not folded", key)
        return None
    if not isinstance(manifest, dict) or manifest.get("status") not in ("completed", "incomplete"):
        return None  # e.g. the "publishing" marker (writer.py): folded once its manifest is back
    entries = manifest.get("files")
    files: dict[str, list[str]] = {t: [] for t in WINDOW_TABLES}
    for entry in entries if isinstance(entries, list) else []:
        rel = entry.get("path") if isinstance(entry, dict) else None
        match = WINDOW_FILE.match(rel) if isinstance(rel, str) else None
        if match and match.group(2) == key:
            files[match.group(1)].append(match.group(0))
    return WindowRun(key, fingerprint, {t: tuple(f) for t, f in files.items()})


class LocalCopies:
    """Local paths of output files: the file itself on local disk, a download otherwise."""

    def __init__(self, storage: Storage, workdir: str) -> None:
        self.storage = storage
        self.workdir = workdir

    def get(self, rel: str) -> str | None:
        """A local path holding ``rel``, or None if it does not exist (any more)."""
        if self.storage.local:
            path = self.storage.path(rel)
            return path if os.path.exists(path) else None
        target = os.path.join(self.workdir, "inputs", rel)
        if os.path.exists(target):
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            self.storage.fs.get_file(self.storage.path(rel), target)
        except FileNotFoundError:
            return None
        return target

    def glob(self, pattern: str) -> list[str]:
        """Relative paths under the output matching ``pattern`` (relative too)."""
        root = self.storage.path("")
        return sorted(str(p)[len(root) :] for p in self.storage.fs.glob(self.storage.path(pattern)))

    def fingerprint(self, rels: list[str]) -> str | None:
        """SHA-256 over the bytes of the given files (absent ones skipped); None if none exist."""
        digest = hashlib.sha256()
        found = False
        for rel in rels:
            path = self.get(rel)
            if path is None:
                continue
            found = True
            digest.update(rel.encode())
            with open(path, "rb") as fh:
                digest.update(hashlib.sha256(fh.read()).digest())
        return digest.hexdigest() if found else None
