"""Refresh ``current/`` and ``marts/`` from the published window files, with DuckDB.

The SQL is in the ``.sql`` files beside this module, one per model; this module only defines
their input views, runs them in order and publishes what they produce. Which current tables
and marts exist is declared with the objects (``objects.registry.CURRENT``: each object's
``CurrentState``); the refresh iterates over those declarations. The rule it keeps: **what a
refresh leaves is what ``refresh --full`` would build from the same window files**, table by
table, row by row, whatever ran before it (reruns with fewer tables or another PII policy,
incomplete then complete windows, windows gone, purged, refreshes killed half-way):

1. the refresh takes the lease of ``current/`` (lease.py: one refresh at a time, on every
   store; a second one waits ``INTERCOM_REFRESH_WAIT``, then says who holds it);
2. windows whose manifest is new or changed are folded in (sources.py). A window whose rows
   may be in ``current/`` but whose manifest changed since or went away is *stale*: the rows
   it contributed are dropped, and the ids they were (its *orphans*) are recomputed from every
   published window file that holds them — so a rerun's new version replaces the old one even
   where it has fewer rows, fewer tables or other values (views.py);
3. for each partitioned current table (conversations, tickets) its model merges the new rows
   with the partitions (``created_month=YYYY-MM``) they touch: the months of the new rows, the
   months where their ids are now, and the months of orphans — only those are read and
   rewritten, so an hourly refresh costs what its window touches, not the history; its marts
   are recomputed for those months from the new current rows and merged with their other
   months; its parts' current table likewise (an object's parts live in its current row's
   month);
4. each unpartitioned current table (contacts) is merged likewise, in one file;
5. everything is staged locally first; then published, each file in one step (``os.replace``
   on disk, one put on object stores): the marts, then the current tables, the state file
   last. Before publishing, the state records the windows being folded as *pending*, so that
   after a crash the next refresh knows their rows may already be in ``current/``.

DuckDB runs with ``memory_limit`` and a spill directory in a private temporary folder, so a
full rebuild of millions of rows stays within a fixed budget (benchmarks/refresh.py).
"""

import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field

import duckdb

from intercom_enrichment.errors import ConfigError
from intercom_enrichment.layout import REFRESH_LEASE, current_file, mart_path
from intercom_enrichment.limits import REFRESH_WAIT
from intercom_enrichment.objects.declaration import CurrentState
from intercom_enrichment.objects.registry import CURRENT
from intercom_enrichment.output.lease import Lease, LeaseBusy
from intercom_enrichment.output.storage import Storage, discard_staging

from .sources import STATE_PATH, LocalCopies, RefreshState, WindowChanges, load_state
from .staging import Stager, quote
from .views import Views, model_sql

# With ``chunk_rows``, a partitioned current table is computed in chunks of about that many
# candidate rows (at most MAX_CHUNKS), so that its grouping by id holds one chunk
# (current_partitioned.sql). Each chunk scans the candidates again: chunks trade time for
# memory, so only a run's own refresh uses them (tasks/marts.py).
MAX_CHUNKS = 8
DEFAULT_MEMORY_LIMIT = "512MB"
DEFAULT_THREADS = 2
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
PARTITIONED = tuple(c for c in CURRENT if c.partitioned)
FILES = tuple(c for c in CURRENT if not c.partitioned)


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
    rows: dict[str, int] = field(default_factory=dict)  # current table → rows in its months


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
    ``chunk_rows``: compute partitioned current tables in chunks of about that many rows)."""
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


@dataclass
class _Staged:
    """What a refresh computed for one partitioned current table, ready to publish."""

    months: set[str]
    existing: dict[str, list[str]]  # its published partitions: month → files
    current: dict[str, str] = field(default_factory=dict)  # month → staged file
    marts: list[tuple[str, str]] = field(default_factory=list)  # (staged file, published path)
    parts_existing: dict[str, list[str]] = field(default_factory=dict)
    parts: dict[str, str] | None = None  # None: its parts' current table is unchanged
    rows: int = 0


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
        self.full = full
        self.chunk_rows = chunk_rows
        self.stage = os.path.join(work, "stage")
        os.makedirs(os.path.join(work, "spill"))
        os.makedirs(self.stage)
        self.config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": os.path.join(work, "spill"),
            "preserve_insertion_order": False,
        }
        self.work = work
        self.con = self._connect()
        self.stager = Stager(self.con, storage, self.stage)
        self.views = Views(self.con, work, LocalCopies(storage, work), storage)

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
        self.con = self.stager.con = self.views.con = self._connect()

    # -- the refresh ------------------------------------------------------------------------

    def run(self) -> RefreshResult:
        loaded = load_state(self.storage)
        if loaded is None and not self.full:
            # Nothing says which windows current/ holds (none yet, or unreadable): rebuild.
            self.full = True
        before = loaded or RefreshState()
        state = RefreshState() if self.full else before
        views = self.views
        views.full = self.full
        changes = views.changes(state)
        dims = views.dimensions()
        names_changed = dims != state.dimensions
        if not (changes.runs or changes.stale or names_changed or self.full):
            return RefreshResult(0, [], 0)
        views.inputs(changes)
        files = {}
        for current in FILES:  # first: the marts may join their names (a company's)
            name = current.table.name
            if self.full or views.any(f"window_{name}", f"orphan_{current.key}s"):
                self._reconnect()
                files[name] = self._file(current)
            published = self.views.local([current_file(name)])
            now = [files[name]] if name in files else published
            views.files(f"current_{name}", now, current.schema, False)
        staged = {c.table.name: self._partitioned(c, names_changed) for c in PARTITIONED}
        self.con.close()
        self._publish(changes, dims, before, staged, files)
        months = sorted({m for s in staged.values() for m in s.months})
        rows = {name: s.rows for name, s in staged.items()}
        return RefreshResult(
            len(changes.runs),
            months,
            rows.get("conversations", 0),
            sorted(self.stager.published),
            self.full,
            stale_windows=len(changes.stale),
            rows=rows,
        )

    def _partitioned(self, current: CurrentState, names_changed: bool) -> _Staged:
        """Stage one partitioned current table, its marts and its parts' current table."""
        name = current.table.name
        existing = self.views.partitions(name)
        months, moved = self.views.scope(current, existing, names_changed)
        staged = _Staged(months, existing)
        self._reconnect()
        self.views.previous(current.table.name, existing, months, current.schema)
        chunks = 1
        if self.chunk_rows:
            (candidates,) = self.con.execute(
                f"SELECT (SELECT count(*) FROM previous_{name}) + (SELECT count(*) FROM new_{name})"
            ).fetchone() or (0,)
            chunks = min(MAX_CHUNKS, max(1, math.ceil(candidates / self.chunk_rows)))
        staged.current = self.stager.partitioned(
            model_sql(current.model, current.model_values), name, chunks
        )
        self.views.files(f"current_{name}", list(staged.current.values()), current.schema, True)
        rows = self.con.execute(f"SELECT count(*) FROM current_{name}").fetchone()
        staged.rows = int(rows[0]) if rows else 0
        staged.marts = self._marts(current, months)
        parts, schema = current.parts, current.parts_schema
        if parts is None or schema is None:
            return staged
        staged.parts_existing = self.views.partitions(parts.name)
        rebuild = self.full and bool(staged.parts_existing)
        if rebuild or moved or self.views.any(f"window_{parts.name}", f"orphan_{current.key}s"):
            self._reconnect()
            self.views.previous(parts.name, staged.parts_existing, months, schema)
            sql = model_sql(current.PARTS_MODEL, current.model_values)
            staged.parts = self.stager.partitioned(sql, parts.name)
        return staged

    def _file(self, current: CurrentState) -> str:
        name = current.table.name
        rel = current_file(name)
        previous = [] if self.full else self.views.local([rel])
        self.views.files(f"previous_{name}", previous, current.schema, False, self.views.UNSTALE)
        local, _ = self.stager.file(model_sql(current.model, current.model_values), rel)
        return local

    def _marts(self, current: CurrentState, months: set[str]) -> list[tuple[str, str]]:
        """Stage each mart of ``current``: its rows of ``months`` recomputed, its other rows
        kept."""
        self.con.execute("CREATE OR REPLACE TABLE scope_months (month VARCHAR)")
        if months:  # none when only empty windows were folded in (DuckDB refuses an empty list)
            self.con.executemany(
                "INSERT INTO scope_months VALUES (?)", [[m] for m in sorted(months)]
            )
        staged = []
        for mart in current.marts:
            rel = mart_path(mart.name)
            query = model_sql(mart.name)
            old = None if self.full else self.views.copies.get(rel)
            named = f" EXCLUDE ({mart.names[0]})" if mart.names else ""
            if old is not None:
                query = (
                    f"SELECT *{named} FROM read_parquet({quote(old)}) "
                    f"WHERE strftime(day, '%Y-%m') NOT IN (SELECT month FROM scope_months) "
                    f"UNION ALL BY NAME SELECT * FROM ({query})"
                )
            if mart.names:  # joined on every refresh: the current name in every row
                column, view, key, source = mart.names
                query = (
                    f"SELECT merged.*, names.{source} AS {column} FROM ({query}) AS merged "
                    f"LEFT JOIN (SELECT {key}, max({source}) AS {source} FROM {view} "
                    f"GROUP BY {key}) AS names USING ({key})"
                )
            staged.append(self.stager.file(f"SELECT * FROM ({query}) ORDER BY ALL", rel))
        return staged

    # -- publication ------------------------------------------------------------------------

    def _publish(
        self,
        changes: WindowChanges,
        dims: str | None,
        before: RefreshState,
        staged: dict[str, _Staged],
        files: dict[str, str],
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
        for table in staged.values():
            for local, rel in table.marts:
                self.stager.publish(local, rel)
        for current in PARTITIONED:
            table = staged[current.table.name]
            self.stager.publish_partitions(
                current.table.name,
                table.current,
                table.existing,
                table.months,
                everything=self.full,
            )
            if table.parts is not None and current.parts is not None:
                self.stager.publish_partitions(
                    current.parts.name,
                    table.parts,
                    table.parts_existing,
                    table.months,
                    everything=self.full,
                )
        for name, local in files.items():
            self.stager.publish(local, current_file(name))
        # A file gone since its manifest was read: the window is being republished; it stays
        # pending, and the next refresh finds its manifest changed (stale) and folds it again.
        copied = self.views.copied
        whole = {
            r.key: r.fingerprint
            for r in changes.runs
            if all(copied[rel] for t in r.files for rel in r.files[t])
        }
        pending = {k: fp for k, fp in runs.items() if k not in whole}
        self.lease.ensure_held()
        self.storage.write_text(
            STATE_PATH, RefreshState({**changes.unchanged, **whole}, pending, dims).to_json()
        )
