"""The refresh's input views: what DuckDB reads of the published windows and of ``current/``.

For every window table ``T`` of the registry (``objects.registry.TABLES``), ``window_T`` holds
the rows of the windows folded in now. For every current table (keyed by ``K``): when some
window is stale (its manifest changed or went away since its rows were folded),
``orphan_Ks`` holds the ids whose current rows came from a stale window (with their month, for
a partitioned table), ``recovered_T`` every row of theirs that the unchanged windows hold, and
``new_T = window_T ∪ recovered_T``; ``previous_T`` holds the published current rows of the
months being refreshed, without the rows of stale windows.
"""

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Template

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from intercom_enrichment.layout import (
    current_file,
    current_partitions_glob,
    dimension_path,
    parse_window_key,
)
from intercom_enrichment.objects.declaration import CurrentState
from intercom_enrichment.objects.registry import CURRENT, TABLES
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import window_files

from .sources import LocalCopies, RefreshState, WindowChanges, window_changes
from .staging import quote

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent
INCLUDE = "-- include: "
# The dimension snapshots the models join names from: view → (id column, snapshot).
DIMENSIONS = {
    "admins": ("admin_id", dimension_path("admins")),
    "teams": ("team_id", dimension_path("teams")),
}


def model_sql(name: str, values: Mapping[str, str] | None = None) -> str:
    """A model's SQL, each ``-- include: <file>`` line replaced by that file's SQL lines (the
    shared select list ``measures.sql``; its header comments are left out), and each
    ``$name`` by ``values[name]`` (the current-state models, written once for every object)."""
    lines = []
    for line in (MODELS / f"{name}.sql").read_text(encoding="utf-8").splitlines():
        included = line.strip().removeprefix(INCLUDE)
        if included != line.strip():
            part = (MODELS / included).read_text(encoding="utf-8").splitlines()
            lines += [sql for sql in part if not sql.startswith("--")]
        else:
            lines.append(line)
    text = "\n".join(lines) + "\n"
    return Template(text).substitute(values) if values else text


class Views:
    # rows not contributed by a stale window
    UNSTALE = (
        "(window_start, window_end) NOT IN (SELECT (window_start, window_end) FROM stale_windows)"
    )

    def __init__(
        self, con: duckdb.DuckDBPyConnection, work: str, copies: LocalCopies, storage: Storage
    ) -> None:
        self.con = con
        self.work = work
        self.copies = copies
        self.storage = storage
        self.full = False
        self.copied: dict[str, str | None] = {}  # window files folded now → local copy

    def changes(self, state: RefreshState) -> WindowChanges:
        return window_changes(self.storage, state)

    # -- generic ----------------------------------------------------------------------------

    def files(
        self, name: str, paths: list[str], empty: pa.Schema, hive: bool, where: str = ""
    ) -> None:
        """View ``name`` over Parquet files (rows that meet ``where``, an SQL condition); with
        none, over an empty file of ``empty``'s schema (an empty Arrow table in a UNION made
        DuckDB plans twice as expensive)."""
        if not paths:
            paths = [f"{self.work}/empty-{name}.parquet"]
            pq.write_table(empty.empty_table(), paths[0])
            hive = False
        listed = "[" + ", ".join(quote(p) for p in paths) + "]"
        self.con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({listed}, "
            f"hive_partitioning = {str(hive).lower()}, union_by_name = true)"
            + (f" WHERE {where}" if where else "")
        )

    def union(self, name: str, parts: Iterable[str]) -> None:
        self.con.execute(
            f"CREATE OR REPLACE VIEW {name} AS "
            + " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts)
        )

    def any(self, *relations: str) -> bool:
        """Whether any of ``relations`` has a row."""
        query = " UNION ALL ".join(f"SELECT 1 FROM {r}" for r in relations)
        return self.con.execute(f"SELECT EXISTS ({query})").fetchone() == (True,)

    def local(self, rels: Iterable[str]) -> list[str]:
        return [p for rel in rels if (p := self.copies.get(rel)) is not None]

    def partitions(self, table: str) -> dict[str, list[str]]:
        """Published partitions of a current table: month → relative file paths."""
        found: dict[str, list[str]] = {}
        for rel in self.copies.glob(current_partitions_glob(table)):
            month = rel.split("created_month=", 1)[1].split("/", 1)[0]
            found.setdefault(month, []).append(rel)
        return found

    # -- dimensions -------------------------------------------------------------------------

    def dimensions(self) -> str | None:
        """Views ``admins`` and ``teams`` (id, name), empty when a snapshot is absent; the
        fingerprint of the snapshots (the names changed when it did)."""
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

    # -- the windows ------------------------------------------------------------------------

    def inputs(self, changes: WindowChanges) -> None:
        """``stale_windows``, and for every table ``window_T``, ``orphan_Ks``, ``recovered_T``
        and ``new_T`` (module docstring)."""
        self.copied = {
            rel: self.copies.get(rel) for r in changes.runs for t in r.files for rel in r.files[t]
        }
        self._stale(changes.stale)
        for name, table in TABLES.items():
            paths = [
                p for r in changes.runs for rel in r.files.get(name, ()) if (p := self.copied[rel])
            ]
            self.files(f"window_{name}", paths, table.schema, False)
        for current in CURRENT:
            self._orphans(current, changes)

    def _stale(self, stale: list[str]) -> None:
        """Table ``stale_windows`` (window_start, window_end) of the stale windows' bounds."""
        self.con.execute(
            "CREATE OR REPLACE TABLE stale_windows "
            "(window_start TIMESTAMPTZ, window_end TIMESTAMPTZ)"
        )
        bounds = [b for key in stale if (b := parse_window_key(key)) is not None]
        if bounds:
            self.con.executemany("INSERT INTO stale_windows VALUES (?, ?)", bounds)

    def _orphans(self, current: CurrentState, changes: WindowChanges) -> None:
        name, key = current.table.name, current.key
        stale = bool(changes.stale) and not self.full

        def published(rels: Iterable[str]) -> list[str]:
            return self.local(rels) if stale else []

        tables = [current.table] + ([current.parts] if current.parts else [])
        if current.partitioned:
            sources = []
            for table, schema in (
                (current.table, current.schema),
                (current.parts, current.parts_schema),
            ):
                if table is None or schema is None:
                    continue
                view = f"all_current_{table.name}"
                self.files(
                    view,
                    published(self.copies.glob(current_partitions_glob(table.name))),
                    schema,
                    True,
                )
                sources.append(
                    f"SELECT {key}, created_month, window_start, window_end, extracted_at "
                    f"FROM {view}"
                )
            located = " UNION ALL ".join(sources)
            columns = f"{key}, created_month"
        else:
            view = f"all_current_{name}"
            self.files(view, published([current_file(name)]), current.schema, False)
            located = f"SELECT {key}, window_start, window_end, extracted_at FROM {view}"
            columns = key
        # A row of a stale window whose very version (the same run's row: the same key,
        # window and extracted_at) is folded again now — the window's manifest changed, not
        # this row (a purge of other rows) — is not orphaned: it comes back as it was.
        self.con.execute(
            f"CREATE OR REPLACE TABLE orphan_{key}s AS "
            f"SELECT DISTINCT {columns} FROM ({located}) AS located "
            "SEMI JOIN stale_windows USING (window_start, window_end) "
            f"ANTI JOIN window_{name} AS again USING ({key}, window_start, window_end, "
            "extracted_at)"
        )
        (orphans,) = self.con.execute(f"SELECT count(*) FROM orphan_{key}s").fetchone() or (0,)
        keys = set(changes.unchanged) if orphans else set()
        for table in tables:
            paths = self.local(window_files(self.storage, table.name, keys))
            where = f"{key} IN (SELECT {key} FROM orphan_{key}s)"
            self.files(f"recovered_{table.name}", paths, table.schema, False, where)
            self.union(f"new_{table.name}", [f"window_{table.name}", f"recovered_{table.name}"])

    # -- the months a partitioned table's refresh rewrites -----------------------------------

    def scope(
        self, current: CurrentState, existing: dict[str, list[str]], names_changed: bool
    ) -> tuple[set[str], bool]:
        """The creation months to rewrite: those of the new rows, those where their ids are
        now (a created_at that changed moves a row), those of orphans; every month when the
        names changed. And whether a new row moved to another month."""
        name, key = current.table.name, current.key
        months = {
            m
            for (m,) in self.con.execute(
                f"SELECT DISTINCT strftime(created_at, '%Y-%m') FROM new_{name}"
            ).fetchall()
        }
        months |= {
            m
            for (m,) in self.con.execute(
                f"SELECT DISTINCT created_month FROM orphan_{key}s"
            ).fetchall()
        }
        moved = False
        if not self.full and existing:
            self.files(
                f"placed_{name}",
                self.local(rel for rels in existing.values() for rel in rels),
                current.schema,
                True,
            )
            placed = self.con.execute(
                "SELECT created_month, bool_or(created_month <> strftime(created_at, '%Y-%m'))"
                f" FROM (SELECT placed.created_month, new.created_at"
                f"  FROM placed_{name} AS placed JOIN new_{name} AS new USING ({key}))"
                " GROUP BY created_month"
            ).fetchall()
            months |= {m for m, _ in placed}
            moved = any(m for _, m in placed)
        if names_changed and current.added and not self.full:
            months |= set(existing)
        return {m for m in months if m is not None}, moved

    def previous(
        self, name: str, existing: dict[str, list[str]], months: set[str], empty: pa.Schema
    ) -> None:
        """View ``previous_<name>`` over the published partitions ``existing`` of ``months``
        (none when rebuilding in full), without the rows of stale windows."""
        published = {} if self.full else existing
        paths = self.local(rel for m in sorted(months) for rel in published.get(m, []))
        self.files(f"previous_{name}", paths, empty, True, self.UNSTALE)
