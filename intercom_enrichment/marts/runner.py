"""Refresh ``current/`` and ``marts/`` from the published window files, with DuckDB.

The SQL is in the ``.sql`` files beside this module, one per model; this module only defines
their input views, runs them in order and publishes what they produce. The rule it keeps:
**what a refresh leaves is what ``refresh --full`` would build from the same window files**,
table by table, row by row, whatever ran before it (reruns with fewer tables or another PII
policy, incomplete then complete windows, windows gone, refreshes killed half-way):

1. the refresh takes the lease of ``current/`` (lease.py: one refresh at a time, on every
   store; a second one waits ``INTERCOM_REFRESH_WAIT``, then says who holds it);
2. windows whose manifest is new or changed are folded in (sources.py). A window whose rows
   may be in ``current/`` but whose manifest changed since or went away is *stale*: the rows
   it contributed are dropped, and the ids they were (its *orphans*) are recomputed from every
   published window file that holds them — so a rerun's new version replaces the old one even
   where it has fewer rows, fewer tables or other values;
3. ``current_conversations.sql`` merges the new rows with the partitions of
   ``current/conversations`` (``created_month=YYYY-MM``) they touch: the months of the new
   rows, the months where their ids are now, and the months of orphans — only those are read
   and rewritten, so an hourly refresh costs what its window touches, not the history;
4. ``current_contacts.sql`` and ``current_conversation_parts.sql`` likewise (a conversation's
   parts live in its current row's month);
5. each mart is recomputed for those months from the new current rows and merged with its
   other months;
6. everything is staged locally first; then published, each file in one step (``os.replace``
   on disk, one put on object stores): the marts, then the current tables, the state file
   last. Before publishing, the state records the windows being folded as *pending*, so that
   after a crash the next refresh knows their rows may already be in ``current/``.

DuckDB runs with ``memory_limit`` and a spill directory in a private temporary folder, so a
full rebuild of millions of rows stays within a fixed budget (benchmarks/refresh.py).
"""

import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from intercom_enrichment.errors import ConfigError
from intercom_enrichment.layout import (
    REFRESH_LEASE,
    current_file,
    current_partitions_glob,
    dimension_path,
    mart_path,
    parse_window_key,
)
from intercom_enrichment.limits import REFRESH_WAIT
from intercom_enrichment.objects import contacts as _contacts
from intercom_enrichment.objects import conversations as _conversations
from intercom_enrichment.output.lease import Lease, LeaseBusy
from intercom_enrichment.output.storage import Storage, discard_staging

from .sources import (
    STATE_PATH,
    LocalCopies,
    RefreshState,
    WindowChanges,
    load_state,
    window_changes,
    window_files,
)
from .staging import Stager, quote

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent
MARTS = ("support_daily", "admin_daily", "team_daily", "tag_daily")
DIMENSIONS = {
    "admins": ("admin_id", dimension_path("admins")),
    "teams": ("team_id", dimension_path("teams")),
}
# With ``chunk_rows``, current_conversations is computed in chunks of about that many
# candidate rows (at most MAX_CHUNKS), so that its grouping by id holds one chunk
# (current_conversations.sql). Each chunk scans the candidates again: chunks trade time for
# memory, so only a run's own refresh uses them (tasks/marts.py).
MAX_CHUNKS = 8
DEFAULT_MEMORY_LIMIT = "512MB"
DEFAULT_THREADS = 2
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
CONTACTS_FILE = current_file("contacts")
CONVERSATIONS = _conversations.CONVERSATIONS.schema
CONVERSATION_PARTS = _conversations.CONVERSATION_PARTS.schema
CONTACTS = _contacts.CONTACTS.schema

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


class RefreshBusy(LeaseBusy):
    """Another live refresh holds the lease of ``current/`` and ``marts/``."""


class RefreshLease(Lease):
    busy = RefreshBusy

    def __init__(self, storage: Storage, run_id: str | None = None, **kw: float) -> None:
        super().__init__(
            storage,
            REFRESH_LEASE,
            "current/ and marts/",
            run_id,
            wait_seconds=kw.pop("wait_seconds", REFRESH_WAIT.value()),
            **kw,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class RefreshResult:
    windows_folded: int
    months: list[str]  # creation months whose current rows and mart rows were rewritten
    conversations: int  # rows of current/conversations in those months
    files: list[str] = field(default_factory=list)  # published, relative to the output
    full: bool = False
    seconds: float = 0.0
    stale_windows: int = 0  # windows whose earlier rows were replaced (rerun, gone)


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
    run_id: str | None = None,
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
    with (
        Storage(output) as storage,
        RefreshLease(storage, run_id) as lease,
        tempfile.TemporaryDirectory(prefix="intercom-refresh-") as work,
    ):
        refresher = _Refresh(storage, lease, work, full, memory_limit.strip(), threads, chunk_rows)
        result = refresher.run()
    return RefreshResult(**{**result.__dict__, "seconds": time.monotonic() - started})


class _Refresh:
    def __init__(
        self,
        storage: Storage,
        lease: Lease,
        work: str,
        full: bool,
        memory_limit: str,
        threads: int,
        chunk_rows: int | None,
    ) -> None:
        self.storage = storage
        self.lease = lease
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
        self.stager = Stager(self.con, storage, self.stage)
        self._existing: dict[str, list[str]] = {}
        self._parts_existing: dict[str, list[str]] = {}
        self._files_copied: dict[str, str | None] = {}
        self._rows = 0
        self._moved = False  # a new row's month differs from where its id is now

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

    def _files_view(
        self,
        name: str,
        paths: list[str],
        empty: pa.Schema,
        hive: bool,
        where: str = "",
    ) -> None:
        """View ``name`` over Parquet files (rows that meet ``where``, an SQL condition); with
        none, over an empty file of ``empty``'s schema (an empty Arrow table in a UNION made
        DuckDB plans twice as expensive)."""
        if not paths:
            paths = [os.path.join(self.work, f"empty-{name}.parquet")]
            pq.write_table(empty.empty_table(), paths[0])
            hive = False
        files = "[" + ", ".join(quote(p) for p in paths) + "]"
        self.con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({files}, "
            f"hive_partitioning = {str(hive).lower()}, union_by_name = true)"
            + (f" WHERE {where}" if where else "")
        )

    def _union_view(self, name: str, parts: Iterable[str]) -> None:
        self.con.execute(
            f"CREATE OR REPLACE VIEW {name} AS "
            + " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts)
        )

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

    def _stale_view(self, stale: list[str]) -> None:
        """Table ``stale_windows`` (window_start, window_end) of the stale windows' bounds."""
        self.con.execute(
            "CREATE OR REPLACE TABLE stale_windows "
            "(window_start TIMESTAMPTZ, window_end TIMESTAMPTZ)"
        )
        bounds = [b for key in stale if (b := parse_window_key(key)) is not None]
        if bounds:
            self.con.executemany("INSERT INTO stale_windows VALUES (?, ?)", bounds)

    def _local(self, rels: Iterable[str]) -> list[str]:
        return [p for rel in rels if (p := self.copies.get(rel)) is not None]

    # -- the refresh ------------------------------------------------------------------------

    def run(self) -> RefreshResult:
        loaded = load_state(self.storage)
        if loaded is None and not self.full:
            # Nothing says which windows current/ holds (none yet, or unreadable): rebuild.
            self.full = True
        before = loaded or RefreshState()
        state = RefreshState() if self.full else before
        changes = window_changes(self.storage, state)
        dims = self._dimension_views()
        names_changed = dims != state.dimensions
        if not (changes.runs or changes.stale or names_changed or self.full):
            return RefreshResult(0, [], 0)
        self._files_copied = {
            rel: self.copies.get(rel) for r in changes.runs for t in r.files for rel in r.files[t]
        }
        self._stale_view(changes.stale)
        self._new_views(changes)
        months = self._scope(changes, names_changed)
        self._reconnect()
        conversations, marts = self._current_conversations(months)
        contacts = parts = None
        if self.full or self._any("window_contacts", "orphan_contacts"):
            self._reconnect()
            contacts = self._current_contacts()
        rebuild_parts = self.full and bool(self._partitions("conversation_parts"))
        if rebuild_parts or self._moved or self._any("window_parts", "orphan_conversations"):
            self._reconnect()
            parts = self._current_parts(months)
        self.con.close()
        self._publish(changes, dims, before, marts, conversations, parts, contacts, months)
        folded = sum(1 for r in changes.runs)
        return RefreshResult(
            folded,
            sorted(months),
            self._rows,
            sorted(self.stager.published),
            self.full,
            stale_windows=len(changes.stale),
        )

    def _new_views(self, changes: WindowChanges) -> None:
        """``new_conversations``, ``new_parts``, ``new_contacts``: the rows of the windows
        folded now, plus — for the orphans of stale windows — every row of theirs that the
        unchanged windows hold (``recovered_*``)."""
        runs = changes.runs
        for view, table, schema in (
            ("window_conversations", "conversations", CONVERSATIONS),
            ("window_parts", "conversation_parts", CONVERSATION_PARTS),
            ("window_contacts", "contacts", CONTACTS),
        ):
            paths = [p for r in runs for rel in r.files[table] if (p := self._files_copied[rel])]
            self._files_view(view, paths, schema, False)
        self._orphans(changes)
        self._union_view("new_conversations", ["window_conversations", "recovered_conversations"])
        self._union_view("new_parts", ["window_parts", "recovered_parts"])
        self._union_view("new_contacts", ["window_contacts", "recovered_contacts"])

    def _orphans(self, changes: WindowChanges) -> None:
        """Tables ``orphan_conversations`` (conversation_id, created_month: where its stale row
        is) and ``orphan_contacts`` (contact_id), and views ``recovered_*`` of their rows in
        the unchanged windows. Empty unless some window is stale."""
        stale = bool(changes.stale) and not self.full

        def published(rels: Iterable[str]) -> list[str]:
            return self._local(rels) if stale else []

        self._files_view(
            "all_current",
            published(self.copies.glob(current_partitions_glob("conversations"))),
            CURRENT_CONVERSATIONS,
            True,
        )
        self._files_view(
            "all_current_parts",
            published(self.copies.glob(current_partitions_glob("conversation_parts"))),
            CURRENT_PARTS,
            True,
        )
        self._files_view("all_current_contacts", published([CONTACTS_FILE]), CONTACTS, False)
        self.con.execute(
            "CREATE OR REPLACE TABLE orphan_conversations AS "
            "SELECT DISTINCT conversation_id, created_month FROM ("
            " SELECT conversation_id, created_month, window_start, window_end FROM all_current"
            " UNION ALL"
            " SELECT conversation_id, created_month, window_start, window_end"
            " FROM all_current_parts"
            ") SEMI JOIN stale_windows USING (window_start, window_end)"
        )
        self.con.execute(
            "CREATE OR REPLACE TABLE orphan_contacts AS SELECT DISTINCT contact_id "
            "FROM all_current_contacts SEMI JOIN stale_windows USING (window_start, window_end)"
        )
        (orphans,) = self.con.execute(
            "SELECT (SELECT count(*) FROM orphan_conversations)"
            " + (SELECT count(*) FROM orphan_contacts)"
        ).fetchone() or (0,)
        keys = set(changes.unchanged) if orphans else set()
        for view, table, schema, key, among in (
            ("recovered_conversations", "conversations", CONVERSATIONS, "conversation_id", "c"),
            ("recovered_parts", "conversation_parts", CONVERSATION_PARTS, "conversation_id", "c"),
            ("recovered_contacts", "contacts", CONTACTS, "contact_id", "k"),
        ):
            orphan_table = "orphan_conversations" if among == "c" else "orphan_contacts"
            paths = self._local(window_files(self.storage, table, keys))
            self._files_view(
                view, paths, schema, False, f"{key} IN (SELECT {key} FROM {orphan_table})"
            )

    def _scope(self, changes: WindowChanges, names_changed: bool) -> set[str]:
        """The creation months to rewrite: those of the new rows, those where their ids are
        now (a created_at that changed moves a conversation), those of orphans; every month
        when the names changed."""
        existing = self._partitions("conversations")
        self._existing = existing
        months = {
            m
            for (m,) in self.con.execute(
                "SELECT DISTINCT strftime(created_at, '%Y-%m') FROM new_conversations"
            ).fetchall()
        }
        months |= {
            m
            for (m,) in self.con.execute(
                "SELECT DISTINCT created_month FROM orphan_conversations"
            ).fetchall()
        }
        if not self.full and existing:
            self._files_view(
                "placed",
                self._local(rel for rels in existing.values() for rel in rels),
                CURRENT_CONVERSATIONS,
                True,
            )
            placed = self.con.execute(
                "SELECT created_month, bool_or(created_month <> strftime(created_at, '%Y-%m'))"
                " FROM (SELECT placed.created_month, new_conversations.created_at"
                "  FROM placed JOIN new_conversations USING (conversation_id))"
                " GROUP BY created_month"
            ).fetchall()
            months |= {m for m, _ in placed}
            self._moved = any(moved for _, moved in placed)
        if names_changed and not self.full:
            months |= set(existing)
        return {m for m in months if m is not None}

    def _any(self, *relations: str) -> bool:
        """Whether any of ``relations`` has a row."""
        query = " UNION ALL ".join(f"SELECT 1 FROM {r}" for r in relations)
        return self.con.execute(f"SELECT EXISTS ({query})").fetchone() == (True,)

    def _partitions(self, table: str) -> dict[str, list[str]]:
        """Published partitions of a current table: month → relative file paths."""
        found: dict[str, list[str]] = {}
        for rel in self.copies.glob(current_partitions_glob(table)):
            month = rel.split("created_month=", 1)[1].split("/", 1)[0]
            found.setdefault(month, []).append(rel)
        return found

    def _previous(
        self, existing: dict[str, list[str]], months: set[str], empty: pa.Schema, view: str
    ) -> None:
        """View ``view`` over the published partitions ``existing`` of ``months`` (none when
        rebuilding in full), without the rows of stale windows."""
        published = {} if self.full else existing
        paths = self._local(rel for m in sorted(months) for rel in published.get(m, []))
        self._files_view(
            view,
            paths,
            empty,
            True,
            "(window_start, window_end) NOT IN (SELECT (window_start, window_end) "
            "FROM stale_windows)",
        )

    def _current_conversations(
        self, months: set[str]
    ) -> tuple[dict[str, str], list[tuple[str, str]]]:
        existing = self._existing
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
        self._rows = int(rows[0]) if rows else 0
        return staged, self._marts(months)

    def _current_parts(self, months: set[str]) -> dict[str, str]:
        self._parts_existing = self._partitions("conversation_parts")
        self._previous(self._parts_existing, months, CURRENT_PARTS, "previous_parts")
        return self.stager.partitioned(model_sql("current_conversation_parts"), "parts")

    def _current_contacts(self) -> str:
        previous = [] if self.full else self._local([CONTACTS_FILE])
        self._files_view(
            "previous_contacts",
            previous,
            CONTACTS,
            False,
            "(window_start, window_end) NOT IN (SELECT (window_start, window_end) "
            "FROM stale_windows)",
        )
        local, _ = self.stager.file(model_sql("current_contacts"), CONTACTS_FILE)
        return local

    def _marts(self, months: set[str]) -> list[tuple[str, str]]:
        """Stage every mart: its rows of ``months`` recomputed, its other rows kept."""
        self.con.execute("CREATE OR REPLACE TABLE scope_months (month VARCHAR)")
        if months:  # none when only empty windows were folded in (DuckDB refuses an empty list)
            self.con.executemany(
                "INSERT INTO scope_months VALUES (?)", [[m] for m in sorted(months)]
            )
        staged = []
        for mart in MARTS:
            rel = mart_path(mart)
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

    # -- publication ------------------------------------------------------------------------

    def _publish(
        self,
        changes: WindowChanges,
        dims: str | None,
        before: RefreshState,
        marts: list[tuple[str, str]],
        conversations: dict[str, str],
        parts: dict[str, str] | None,
        contacts: str | None,
        months: set[str],
    ) -> None:
        """Publish what was staged. First the intent: the windows folded now are recorded as
        pending (a full rebuild removes the state instead), so a crash from here on leaves a
        state that says their rows may be in current/. Then the marts (computed from the staged
        current rows: a crash after them leaves marts that the next refresh recomputes for the
        same months), the current tables, and the state last."""
        self.lease.ensure_held()
        discard_staging(self.storage, [STATE_PATH])  # a killed refresh's (refreshes are leased)
        runs = {r.key: r.fingerprint for r in changes.runs}
        if self.full:
            self.storage.remove(STATE_PATH)
        else:
            intent = RefreshState(before.folded, {**before.pending, **runs}, before.dimensions)
            self.storage.write_text(STATE_PATH, intent.to_json())
        for local, rel in marts:
            self.stager.publish(local, rel)
        self.stager.publish_partitions(
            "conversations", conversations, self._existing, months, everything=self.full
        )
        if parts is not None:
            self.stager.publish_partitions(
                "conversation_parts", parts, self._parts_existing, months, everything=self.full
            )
        if contacts is not None:
            self.stager.publish(contacts, CONTACTS_FILE)
        # A file gone since its manifest was read: the window is being republished; it stays
        # pending, and the next refresh finds its manifest changed (stale) and folds it again.
        whole = {
            r.key: r.fingerprint
            for r in changes.runs
            if all(self._files_copied[rel] for t in r.files for rel in r.files[t])
        }
        pending = {k: fp for k, fp in runs.items() if k not in whole}
        self.lease.ensure_held()
        self.storage.write_text(
            STATE_PATH, RefreshState({**changes.unchanged, **whole}, pending, dims).to_json()
        )
