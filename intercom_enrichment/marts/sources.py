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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage import Storage

log = logging.getLogger(__name__)

STATE_PATH = "current/_refresh.json"
STATE_VERSION = 1
WINDOW_TABLES = ("conversations", "conversation_parts", "contacts")
_WINDOW_KEY = re.compile(r"^[0-9]{8}T[0-9]{6}Z_[0-9]{8}T[0-9]{6}Z$")
_WINDOW_FILE = re.compile(
    r"^(conversations|conversation_parts|contacts)/updated_date=[0-9]{4}-[0-9]{2}-[0-9]{2}/"
    r"[0-9]{8}T[0-9]{6}Z_[0-9]{8}T[0-9]{6}Z\.parquet$"
)


@dataclass(frozen=True)
class WindowRun:
    """One published window: its key, manifest fingerprint and data files by table."""

    key: str
    fingerprint: str
    files: dict[str, tuple[str, ...]]


@dataclass
class RefreshState:
    folded: dict[str, str] = field(default_factory=dict)  # window key → manifest fingerprint
    dimensions: str | None = None  # fingerprint of the dimension snapshots last applied

    def to_json(self) -> str:
        body = {"version": STATE_VERSION, "folded": self.folded, "dimensions": self.dimensions}
        return json.dumps(body, indent=1, sort_keys=True) + "\n"


def load_state(storage: Storage) -> RefreshState:
    """The last refresh's state; an unreadable or foreign one means "nothing folded yet"."""
    text = storage.read_text(STATE_PATH)
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return RefreshState()
    folded = data.get("folded")
    dims = data.get("dimensions")
    return RefreshState(
        folded={
            k: v
            for k, v in (folded.items() if isinstance(folded, dict) else [])
            if isinstance(k, str) and isinstance(v, str)
        },
        dimensions=dims if isinstance(dims, str) else None,
    )


def published_windows(storage: Storage, folded: dict[str, str]) -> list[WindowRun]:
    """Windows whose manifest is new or changed since it was folded (``folded``: key →
    fingerprint). The fingerprint comes from the listing (size, modification time, ETag), so
    only changed manifests are read: a refresh costs no more as history grows."""
    try:
        entries = storage.fs.ls(storage.path("_runs"), detail=True)
    except FileNotFoundError:
        return []
    runs = []
    for entry in sorted(entries, key=lambda e: str(e.get("name"))):
        key = Path(str(entry.get("name"))).name.removesuffix(".json")
        if not _WINDOW_KEY.match(key) or entry.get("type") == "directory":
            continue
        stamp = entry.get("mtime") or entry.get("LastModified") or entry.get("last_modified")
        fingerprint = f"{entry.get('size')}:{stamp}:{entry.get('ino', '')}:{entry.get('ETag', '')}"
        if folded.get(key) == fingerprint:
            continue
        text = storage.read_text(f"_runs/{key}.json")
        run = _parse(key, text, fingerprint) if text is not None else None
        if run is not None:
            runs.append(run)
    return runs


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
        if isinstance(rel, str) and _WINDOW_FILE.match(rel) and rel.endswith(f"/{key}.parquet"):
            files[rel.split("/", 1)[0]].append(rel)
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
