"""Refresh ``current/`` and ``marts/`` from the published window files, with DuckDB.

The SQL is in the ``.sql`` files beside this module, one per model; this module only defines
their input views, runs them in order and publishes what they produce:

1. windows whose manifest is new or changed since the last refresh (sources.py) are folded in;
2. ``current_conversations.sql`` merges their conversation rows with the partitions of
   ``current/conversations`` of the same creation months (``created_month=YYYY-MM``) — only
   those partitions are read and rewritten, so an hourly refresh costs what its window
   touches, not the history;
3. ``current_contacts.sql`` and ``current_conversation_parts.sql`` likewise;
4. each mart is recomputed for the refreshed months from the new current rows and merged with
   its other months;
5. every file is staged locally and published in one step (``os.replace`` on disk, one put on
   object stores), the state file last.

DuckDB runs with ``memory_limit`` and a spill directory in a private temporary folder, so a
full rebuild of millions of rows stays within a fixed budget (benchmarks/refresh.py).
"""

import contextlib
import fcntl
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError, OutputError
from ..schema import CONTACTS, CONVERSATION_PARTS, CONVERSATIONS
from ..storage import Storage, discard_staging
from .sources import STATE_PATH, LocalCopies, RefreshState, load_state, published_windows
from .staging import Stager, quote

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent
MARTS = ("support_daily", "admin_daily", "team_daily", "tag_daily")
DIMENSIONS = {
    "admins": ("admin_id", "dimensions/admins.parquet"),
    "teams": ("team_id", "dimensions/teams.parquet"),
}
# With ``chunk_rows``, current_conversations is computed in chunks of about that many
# candidate rows (at most MAX_CHUNKS), so that its grouping by id holds one chunk
# (current_conversations.sql). Each chunk scans the candidates again: chunks trade time for
# memory, so only a run's own refresh uses them (tasks/marts.py).
MAX_CHUNKS = 8
DEFAULT_MEMORY_LIMIT = "512MB"
DEFAULT_THREADS = 2
LOCK_WAIT_SECONDS = 600.0
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")

_NAMES = [("admin_assignee_name", pa.string()), ("team_assignee_name", pa.string())]
CURRENT_CONVERSATIONS = pa.schema(
    [*CONVERSATIONS, *(pa.field(n, t) for n, t in _NAMES), pa.field("created_month", pa.string())]
)
CURRENT_PARTS = pa.schema(
    [
        *CONVERSATION_PARTS,
        pa.field("conversation_updated_at", CONVERSATIONS.field("updated_at").type),
        pa.field("created_month", pa.string()),
    ]
)


@dataclass(frozen=True)
class RefreshResult:
    windows_folded: int
    months: list[str]  # creation months whose current rows and mart rows were rewritten
    conversations: int  # rows of current/conversations in those months
    files: list[str] = field(default_factory=list)  # published, relative to the output
    full: bool = False
    seconds: float = 0.0


INCLUDE = "-- include: "


def model_sql(name: str) -> str:
    """A model's SQL, each ``-- include: <file>`` line replaced by that file's SQL lines (the
    shared select list ``measures.sql``; its header comments are left out)."""
    lines = []
    for line in (MODELS / f"{name}.sql").read_text(encoding="utf-8").splitlines():
        included = line.strip().removeprefix(INCLUDE)
        if included != line.strip():
            part = (MODELS / included).read_text(encoding="utf-8").splitlines()
            lines += [sql for sql in part if not sql.startswith("--")]
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def refresh(
    output: str,
    *,
    full: bool = False,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int = DEFAULT_THREADS,
    chunk_rows: int | None = None,
) -> RefreshResult:
    """Fold newly published windows into ``current/`` and ``marts/`` (``full``: rebuild all;
    ``chunk_rows``: compute current conversations in chunks of about that many rows)."""
    if not _MEMORY.match(memory_limit.strip()):
        raise ConfigError(f"memory limit must look like 1GB or 512MiB, not {memory_limit!r}")
    if threads < 1:
        raise ConfigError("threads must be at least 1")
    if chunk_rows is not None and chunk_rows < 1:
        raise ConfigError("chunk rows must be at least 1")
    started = time.monotonic()
    storage = Storage(output)
    with _exclusive(storage), tempfile.TemporaryDirectory(prefix="intercom-refresh-") as work:
        result = _Refresh(storage, work, full, memory_limit.strip(), threads, chunk_rows).run()
    return RefreshResult(**{**result.__dict__, "seconds": time.monotonic() - started})


@contextlib.contextmanager
def _exclusive(storage: Storage) -> Iterator[None]:
    """One refresh at a time per local output (a lock file); object stores: the caller's care."""
    if not storage.local:
        yield
        return
    lock_path = Path(storage.path("current/.refresh.lock"))
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with open(lock_path, "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(
                        f"another refresh of {storage.url!r} held its lock for "
                        f"{LOCK_WAIT_SECONDS:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _Refresh:
    def __init__(
        self,
        storage: Storage,
        work: str,
        full: bool,
        memory_limit: str,
        threads: int,
        chunk_rows: int | None,
    ) -> None:
        self.storage = storage
        self.work = work
        self.full = full
        self.chunk_rows = chunk_rows
        self.copies = LocalCopies(storage, work)
        self.stage = os.path.join(work, "stage")
        os.makedirs(os.path.join(work, "spill"))
        os.makedirs(self.stage)
        self.config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": os.path.join(work, "spill"),
            "preserve_insertion_order": False,
        }
        self.con = self._connect()
        self.stager = Stager(self.con, storage, self.stage, full)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(os.path.join(self.work, "refresh.duckdb"), config=self.config)
        con.execute("SET TimeZone = 'UTC'")  # dates and months of timestamps are UTC
        con.execute("SET enable_progress_bar = false")
        return con

    def _reconnect(self) -> None:
        """Start the next step on a fresh connection: DuckDB keeps what a query allocated until
        its connection closes (copying 24,870 contacts left 26 MB held until then), so without
        this the steps' memory adds up. Views and tables are kept in the database file."""
        self.con.close()
        self.con = self.stager.con = self._connect()

    # -- views ------------------------------------------------------------------------------

    def _files_view(self, name: str, paths: list[str], empty: pa.Schema, hive: bool) -> None:
        """View ``name`` over Parquet files; with none, over an empty file of ``empty``'s
        schema (an empty Arrow table in a UNION made DuckDB plans twice as expensive)."""
        if not paths:
            paths = [os.path.join(self.work, f"empty-{name}.parquet")]
            pq.write_table(empty.empty_table(), paths[0])
            hive = False
        rel = self.con.read_parquet(paths, hive_partitioning=hive, union_by_name=True)
        rel.create_view(name)

    def _dimension_views(self) -> str | None:
        """Views ``admins`` and ``teams`` (id, name), empty when a snapshot is absent."""
        rels = [rel for _, rel in DIMENSIONS.values()]
        for view, (id_column, rel) in DIMENSIONS.items():
            path = self.copies.get(rel)
            select = f"SELECT NULL::VARCHAR AS {id_column}, NULL::VARCHAR AS name WHERE false"
            if path is not None:
                try:
                    columns = {
                        c[0]
                        for c in self.con.execute(
                            f"DESCRIBE SELECT * FROM read_parquet({quote(path)})"
                        ).fetchall()
                    }
                except duckdb.Error as exc:
                    columns = set()
                    log.warning("dimension %s unreadable (%s); names left null", rel, exc)
                if {id_column, "name"} <= columns:
                    select = (
                        f"SELECT CAST({id_column} AS VARCHAR) AS {id_column}, "
                        f"any_value(CAST(name AS VARCHAR)) AS name "
                        f"FROM read_parquet({quote(path)}) WHERE {id_column} IS NOT NULL "
                        f"GROUP BY ALL"
                    )
                else:
                    log.warning("dimension %s lacks %s/name; names left null", rel, id_column)
            self.con.execute(f"CREATE OR REPLACE VIEW {view} AS {select}")
        return self.copies.fingerprint(rels)

    # -- the refresh ------------------------------------------------------------------------

    def run(self) -> RefreshResult:
        state = RefreshState() if self.full else load_state(self.storage)
        runs = published_windows(self.storage, state.folded)
        dims = self._dimension_views()
        names_changed = dims != state.dimensions
        if not runs and not names_changed:
            return RefreshResult(0, [], 0)
        local = {rel: self.copies.get(rel) for r in runs for t in r.files for rel in r.files[t]}
        files = {
            t: [p for r in runs for rel in r.files[t] if (p := local[rel])]
            for t in ("conversations", "conversation_parts", "contacts")
        }
        self._files_view("new_conversations", files["conversations"], CONVERSATIONS, False)
        new_months = {
            m
            for (m,) in self.con.execute(
                "SELECT DISTINCT strftime(created_at, '%Y-%m') FROM new_conversations"
            ).fetchall()
        }
        existing = self._partitions("current/conversations")
        months = set(existing) | new_months if names_changed and not self.full else new_months
        self._reconnect()
        conversations = self._current_conversations(existing, months)
        if files["contacts"] or self.full:
            self._reconnect()
            self._files_view("new_contacts", files["contacts"], CONTACTS, False)
            self._current_contacts()
        if files["conversation_parts"] or self.full:
            self._reconnect()
            self._files_view("new_parts", files["conversation_parts"], CONVERSATION_PARTS, False)
            self._current_parts(new_months)
        folded = {} if self.full else dict(state.folded)
        # A file gone since its manifest was read: the window is being republished; fold it
        # again once its new manifest is there.
        whole = [r for r in runs if all(local[rel] for t in r.files for rel in r.files[t])]
        folded.update({r.key: r.fingerprint for r in whole})
        discard_staging(self.storage, [STATE_PATH])  # a killed refresh's (refreshes are locked)
        self.storage.write_text(STATE_PATH, RefreshState(folded, dims).to_json())
        self.con.close()
        return RefreshResult(
            len(runs), sorted(months), conversations, sorted(self.stager.published), self.full
        )

    def _partitions(self, table: str) -> dict[str, list[str]]:
        """Published partitions of a current table: month → relative file paths."""
        found: dict[str, list[str]] = {}
        for rel in self.copies.glob(f"{table}/created_month=*/*.parquet"):
            month = rel.split("created_month=", 1)[1].split("/", 1)[0]
            found.setdefault(month, []).append(rel)
        return found

    def _previous(
        self, existing: dict[str, list[str]], months: set[str], empty: pa.Schema, view: str
    ) -> None:
        """View ``view`` over the published partitions ``existing`` of ``months`` (none when
        rebuilding in full)."""
        published = {} if self.full else existing
        paths = [
            p for m in sorted(months) for rel in published.get(m, []) if (p := self.copies.get(rel))
        ]
        self._files_view(view, paths, empty, True)

    def _current_conversations(self, existing: dict[str, list[str]], months: set[str]) -> int:
        self._previous(existing, months, CURRENT_CONVERSATIONS, "previous_conversations")
        chunks = 1
        if self.chunk_rows:
            (candidates,) = self.con.execute(
                "SELECT (SELECT count(*) FROM previous_conversations)"
                " + (SELECT count(*) FROM new_conversations)"
            ).fetchone() or (0,)
            chunks = min(MAX_CHUNKS, max(1, math.ceil(candidates / self.chunk_rows)))
        staged = self.stager.partitioned(
            model_sql("current_conversations"), "conversations", chunks
        )
        self._files_view(
            "current_conversations", list(staged.values()), CURRENT_CONVERSATIONS, True
        )
        rows = self.con.execute("SELECT count(*) FROM current_conversations").fetchone()
        marts = self._marts(months)  # from the staged files, before they are moved
        self.stager.publish_partitions("current/conversations", staged, existing)
        for local, rel in marts:
            self.stager.publish(local, rel)
        return int(rows[0]) if rows else 0

    def _current_parts(self, months: set[str]) -> None:
        existing = self._partitions("current/conversation_parts")
        self._previous(existing, months, CURRENT_PARTS, "previous_parts")
        staged = self.stager.partitioned(model_sql("current_conversation_parts"), "parts")
        self.stager.publish_partitions("current/conversation_parts", staged, existing)

    def _current_contacts(self) -> None:
        previous = None if self.full else self.copies.get("current/contacts.parquet")
        self._files_view("previous_contacts", [previous] if previous else [], CONTACTS, False)
        self.stager.publish(
            *self.stager.file(model_sql("current_contacts"), "current/contacts.parquet")
        )

    def _marts(self, months: set[str]) -> list[tuple[str, str]]:
        """Stage every mart: its rows of ``months`` recomputed, its other rows kept."""
        self.con.execute("CREATE OR REPLACE TABLE scope_months (month VARCHAR)")
        if months:  # none when only empty windows were folded in (DuckDB refuses an empty list)
            self.con.executemany(
                "INSERT INTO scope_months VALUES (?)", [[m] for m in sorted(months)]
            )
        staged = []
        for mart in MARTS:
            rel = f"marts/{mart}.parquet"
            query = model_sql(mart)
            old = None if self.full else self.copies.get(rel)
            if old is not None:
                query = (
                    f"SELECT * FROM read_parquet({quote(old)}) WHERE strftime(day, '%Y-%m') "
                    f"NOT IN (SELECT month FROM scope_months) "
                    f"UNION ALL BY NAME SELECT * FROM ({query}) ORDER BY ALL"
                )
            staged.append(self.stager.file(query, rel))
        return staged
