"""Where output goes: a local folder or any fsspec URL, with all-or-nothing file publication.

Files are first written to a staging name that readers ignore (a dot-prefixed ``.tmp`` beside
the target on local disk, a local temporary file for object stores) and then published in one
step: ``os.replace`` locally, a single upload on object stores. A crash leaves no partial file
under a name readers look at.
"""

import contextlib
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from intercom_enrichment.errors import OutputError

from .liveness import process_gone, scope_tag

NOT_PERSISTENT = frozenset({"memory"})  # fsspec protocols whose files vanish with the process


def display_url(url: str) -> str:
    """``url`` for messages: without a ``user:password@`` part."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", r"\1", url)


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
        shown = display_url(url)
        if not url.strip():
            raise OutputError("the output must not be empty (a folder or an fsspec URL)")
        protocol = url.split("://", 1)[0].lower() if "://" in url else "file"
        if protocol in NOT_PERSISTENT:
            raise OutputError(f"output {shown!r} is not persistent: use a folder or a bucket")
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except ImportError:
            raise OutputError(
                f"output {shown!r}: the library for {protocol}:// is not installed"
            ) from None
        except ValueError as exc:  # fsspec: unknown protocol, malformed URL
            raise OutputError(f"cannot use output {shown!r}: {exc}") from None
        except Exception as exc:  # the filesystem's own errors: the type only, no text
            raise OutputError(f"cannot use output {shown!r}: {type(exc).__name__}") from None
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

    def staging_path(self, rel: str, tag: str | None = None) -> str:
        """A local file to write ``rel`` to before publishing it, unique per call; ``tag`` (a
        run's lease token) names its run, so a later holder of the lease can remove it."""
        name = f".{Path(rel).name}.{tag or default_tag()}.{uuid.uuid4().hex[:12]}.tmp"
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
        finally:  # published (on disk: already moved) or failed: the staged copy goes
            self.discard(staged)

    @staticmethod
    def discard(staged: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(staged)

    def write_text(self, rel: str, text: str, tag: str | None = None) -> None:
        staged = self.staging_path(rel, tag)
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
        """Fail early, before any API call, if the output cannot be written — creating nothing
        that stays: locally, a temporary file in the output folder or, if that does not exist
        yet, in its nearest existing ancestor (removed at once; no folder is made); on object
        stores, one small object put under the output and deleted (proves the credentials)."""
        shown = display_url(self.url)
        try:
            if self.local:
                _probe_folder(Path(self.root))
            else:
                probe = self.path(f"_runs/.write-probe-{uuid.uuid4().hex[:8]}")
                self.fs.pipe_file(probe, b"ok")
                self.fs.rm(probe)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"output {shown!r} is not writable: {reason}") from None
        except Exception as exc:  # e.g. botocore's NoCredentialsError: the type only
            raise OutputError(f"output {shown!r} is not reachable: {type(exc).__name__}") from None


def default_tag() -> str:
    """``p<pid>s<scope>``: the staging tag of a process that holds no lease; the scope digest
    (liveness.py) says where the pid was seen, so only a process of the same host and pid
    namespace ever judges it gone."""
    return f"p{os.getpid()}s{scope_tag()}"


_DEFAULT_TAG = re.compile(r"^p([0-9]{1,10})s([0-9a-f]{8})$")


def discard_staging(
    storage: Storage,
    rels: Iterable[str],
    *,
    tag: str | None = None,
    older_than: float | None = None,
    of_gone_processes: bool = False,
) -> None:
    """Remove staging files of ``rels`` (local disk only; object stores stage in a private
    temporary folder): those of the run tagged ``tag``, or any older than ``older_than`` seconds,
    or (``of_gone_processes``) those a process of this machine staged under its default tag and
    is no longer there to publish. The window's files: only the holder of the window's lease
    calls this (``lease.py``); the dimension snapshots: any run, for killed runs' files."""
    if not storage.local:
        return
    now = time.time()
    for rel in rels:
        target = Path(storage.path(rel))
        pattern = f".{target.name}.{tag}.*.tmp" if tag else f".{target.name}.*.tmp"
        if not target.parent.is_dir():
            continue
        for leftover in target.parent.glob(pattern):
            if of_gone_processes and not _staged_by_gone_process(leftover.name, target.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                if older_than is None or now - leftover.stat().st_mtime > older_than:
                    storage.discard(str(leftover))


def _staged_by_gone_process(staged: str, target: str) -> bool:
    """``staged`` (``.<target>.<default_tag>.<random>.tmp``) is the file of a process of this
    host and pid namespace that is gone."""
    match = _DEFAULT_TAG.match(staged[len(target) + 2 :].split(".", 1)[0])
    if match is None:
        return False
    return match.group(2) == scope_tag() and process_gone(int(match.group(1)))


def _probe_folder(root: Path) -> None:
    """Raise ``OSError`` unless files can be created in ``root`` (or, when it does not exist,
    in its nearest existing ancestor, where its folders would be made)."""
    folder = root
    while not folder.exists():
        if folder.parent == folder:
            raise FileNotFoundError(2, "no existing parent folder")
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(20, f"{folder.name or folder} is a file, not a folder")
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".intercom-write-probe-"):
        pass
