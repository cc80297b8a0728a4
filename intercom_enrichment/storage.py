"""Where output goes: a local folder or any fsspec URL, with all-or-nothing file publication.

Files are first written to a staging name that readers ignore (a dot-prefixed ``.tmp`` beside
the target on local disk, a local temporary file for object stores) and then published in one
step: ``os.replace`` locally, a single upload on object stores. A crash leaves no partial file
under a name readers look at.
"""

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import OutputError


def _fsync(path: str) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Storage:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise OutputError(f"cannot use output {url!r}: {exc}") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = os.path.abspath(root) if self.local else root.rstrip("/")
        self._tmpdir: str | None = None  # object stores: local staging, made when first needed

    def close(self) -> None:
        """Remove the local staging folder of an object store (and whatever is left in it)."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> "Storage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="intercom-enrichment-")
        return os.path.join(self._tmpdir, name)

    def publish(self, staged: str, rel: str) -> None:
        """Make ``staged`` the file ``rel`` in one step; the staged file is gone afterwards,
        published or, on failure, removed."""
        target = self.path(rel)
        try:
            if self.local:
                _fsync(staged)  # the data is on disk before the name points at it
                os.replace(staged, target)
                _fsync(os.path.dirname(target))  # …and the rename itself survives a crash
                return
            self.fs.makedirs(os.path.dirname(target), exist_ok=True)
            self.fs.put_file(staged, target)
        except BaseException:
            self.discard(staged)
            raise
        self.discard(staged)

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
        try:
            with open(staged, "w", encoding="utf-8") as fh:
                fh.write(text)
        except BaseException:
            self.discard(staged)
            raise
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
        """Fail early, before any API call, if the output cannot be written.

        The probe is written and removed directly, not through staging and publication: it is
        no part of any window, and a crash between the two steps leaves no staged file.
        """
        probe = self.path(f"_runs/.write-probe-{uuid.uuid4().hex[:8]}")
        try:
            if self.local:
                Path(self.root, "_runs").mkdir(parents=True, exist_ok=True)
            with self.fs.open(probe, "w") as fh:
                fh.write("ok")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"output {self.url!r} is not writable: {reason}") from None
        finally:
            with contextlib.suppress(OSError):
                self.fs.rm(probe)
