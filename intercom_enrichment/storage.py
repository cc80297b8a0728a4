"""Where output goes: a local folder or any fsspec URL, with all-or-nothing file publication.

Files are first written to a staging name that readers ignore (a dot-prefixed ``.tmp`` beside
the target on local disk, a local temporary file for object stores) and then published in one
step: ``os.replace`` locally, a single upload on object stores. A crash leaves no partial file
under a name readers look at.
"""

import contextlib
import os
import tempfile
import uuid
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import OutputError


class Storage:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise OutputError(f"cannot use output {url!r}: {exc}") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = os.path.abspath(root) if self.local else root.rstrip("/")
        self._tmpdir = None if self.local else tempfile.mkdtemp(prefix="intercom-enrichment-")

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def uri(self, rel: str) -> str:
        """Address of a published file, for links and messages."""
        if self.local:
            return Path(self.path(rel)).as_uri()
        protocol = self.fs.protocol[0] if isinstance(self.fs.protocol, tuple) else self.fs.protocol
        return f"{protocol}://{self.path(rel)}"

    def staging_path(self, rel: str) -> str:
        """A local file to write ``rel`` to before publishing it."""
        name = f".{Path(rel).name}.{uuid.uuid4().hex[:12]}.tmp"
        if self.local:
            target_dir = Path(self.path(rel)).parent
            target_dir.mkdir(parents=True, exist_ok=True)
            return str(target_dir / name)
        assert self._tmpdir is not None
        return os.path.join(self._tmpdir, name)

    def publish(self, staged: str, rel: str) -> None:
        target = self.path(rel)
        if self.local:
            os.replace(staged, target)
            return
        self.fs.makedirs(os.path.dirname(target), exist_ok=True)
        self.fs.put_file(staged, target)
        os.remove(staged)

    def discard_stale(self, rel: str) -> None:
        """Remove staging files of ``rel`` left behind by a killed run (local disk only)."""
        if self.local:
            target = Path(self.path(rel))
            for leftover in target.parent.glob(f".{target.name}.*.tmp"):
                self.discard(str(leftover))

    @staticmethod
    def discard(staged: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)

    def write_text(self, rel: str, text: str) -> None:
        staged = self.staging_path(rel)
        with open(staged, "w", encoding="utf-8") as fh:
            fh.write(text)
        self.publish(staged, rel)

    def read_text(self, rel: str) -> str | None:
        try:
            with self.fs.open(self.path(rel), "r", encoding="utf-8") as fh:
                return str(fh.read())
        except FileNotFoundError:
            return None

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

    def remove(self, rel: str) -> None:
        if self.exists(rel):
            self.fs.rm(self.path(rel))

    def check_writable(self) -> None:
        """Fail early, before any API call, if the output cannot be written."""
        probe = f"_runs/.write-probe-{uuid.uuid4().hex[:8]}"
        try:
            if self.local:
                Path(self.root, "_runs").mkdir(parents=True, exist_ok=True)
            self.write_text(probe, "ok")
            self.remove(probe)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"output {self.url!r} is not writable: {reason}") from None
