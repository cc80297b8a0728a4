"""Staging and publication of refresh results: query → local Parquet → one atomic step.

Files are written under a private folder first, then published with ``Storage``: moved beside
the target and ``os.replace``d on local disk, one put on object stores. A reader never sees a
partial file; a refresh killed in between leaves at most a dot-named ``.tmp`` file, which the
next publication of the same path discards.
"""

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_enrichment.layout import current_partition
from intercom_enrichment.output.storage import Storage, discard_staging

# Rows per batch streamed out of DuckDB (50,000 peaked 67 MB higher on a 200k window's refresh).
ARROW_BATCH_ROWS = 10_000
ROW_GROUP_ROWS = 50_000  # rows buffered per month before they are written as a row group
# Row groups of the single-file outputs (current/contacts, marts): DuckDB's COPY holds a whole
# row group (122,880 rows by default) while it writes. Refreshing a 200,000-conversation
# window's 24,870 contacts alone: +30 MB RSS with the default, +20 with 10,000, +16 with 2,048.
FILE_ROW_GROUP_ROWS = 10_000
# Bytes all months' buffers may hold together: beyond it the fullest month is written (as a
# smaller row group), so the buffers no longer grow with the number of months a refresh spans.
BUFFERED_BYTES = 16 * 2**20
# Arrow bytes written between two releases of Arrow's free pages (see ``partitioned``).
# Refreshing a 10-window output of 200,000 conversations alone (memory_limit 256MB, threads 1,
# peak RSS of the process), with Arrow on glibc's malloc (the package's default, memory.py):
# 329–333 MB with neither, 303–305 with the cap only, 295–296 with both, 0.05 s more; 50,000
# conversations: 249 MB either way. (With mimalloc, before that default: ~410 → ~350 MB;
# benchmarks/refresh.py at 1M rows: peak 729/770 → 710/730 MB first/full, same wall time.)
RELEASE_BYTES = 32 * 2**20


def quote(path: str) -> str:
    """A path as an SQL string literal."""
    return "'" + path.replace("'", "''") + "'"


class Stager:
    def __init__(self, con: duckdb.DuckDBPyConnection, storage: Storage, stage: str):
        self.con = con
        self.storage = storage
        self.stage = stage
        self.published: list[str] = []

    def partitioned(self, query: str, name: str, chunks: int = 1) -> dict[str, str]:
        """Run ``query`` into one staged file per created_month: month → local path.

        Batches stream out of DuckDB and are routed to one Parquet writer per month, on a
        writer thread so that DuckDB computes the next batch meanwhile (both release the GIL):
        about half the CPU of DuckDB's own ``PARTITION_BY`` here (benchmarks/refresh.py), and
        one file per month, so each partition is replaced in one step.

        ``chunks``: run ``query`` that many times, with the SQL variable ``chunk`` set to 0, 1, …
        (and ``chunks`` to their number), into the same files.
        """
        writers: dict[str, tuple[pq.ParquetWriter, str]] = {}
        buffers: dict[str, list[pa.RecordBatch]] = {}
        written = [0]  # bytes written since Arrow's pool last released memory

        def flush(month: str) -> None:
            batches = buffers.pop(month, [])
            if not batches:
                return
            if month not in writers:
                path = os.path.join(self.stage, name, f"created_month={month}", "data.parquet")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                writer = pq.ParquetWriter(path, batches[0].schema, compression="zstd")
                writers[month] = (writer, path)
            table = pa.Table.from_batches(batches)
            del batches
            writers[month][0].write_table(table)
            written[0] += table.nbytes
            del table
            # Give back the pages of the buffers and Parquet encoders freed on this thread, now
            # and then (it costs): on glibc's malloc this is malloc_trim; mimalloc, if chosen,
            # keeps a thread's freed pages for that thread, out of the main thread's reach.
            if written[0] >= RELEASE_BYTES:
                written[0] = 0
                pa.default_memory_pool().release_unused()

        def write(batch: pa.RecordBatch | None) -> None:  # only ever on the writer thread
            if batch is None:  # the end: flush what is left
                for month in list(buffers):
                    flush(month)
                return
            months = batch.column("created_month")
            for month in pc.unique(months).to_pylist():
                part = batch.filter(pc.equal(months, month)).drop_columns(["created_month"])
                buffers.setdefault(month, []).append(part)
                if sum(b.num_rows for b in buffers[month]) >= ROW_GROUP_ROWS:
                    flush(month)
            sizes = {m: sum(b.nbytes for b in parts) for m, parts in buffers.items()}
            while sizes and sum(sizes.values()) > BUFFERED_BYTES:
                fullest = max(sizes, key=sizes.__getitem__)
                flush(fullest)
                del sizes[fullest]

        pending: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="refresh-writer") as pool:
            try:
                for batch in self._chunked(query, chunks):
                    if pending is not None:
                        pending.result()  # one batch in flight: memory stays bounded
                    pending = pool.submit(write, batch)
                if pending is not None:
                    pending.result()
                pool.submit(write, None).result()
            finally:
                pool.shutdown(wait=True)
                for writer, _ in writers.values():
                    writer.close()
        return {month: path for month, (_, path) in sorted(writers.items())}

    def _chunked(self, query: str, chunks: int) -> Iterator[pa.RecordBatch]:
        self.con.execute(f"SET VARIABLE chunks = {int(chunks)}")
        for chunk in range(chunks):
            self.con.execute(f"SET VARIABLE chunk = {chunk}")
            yield from self.con.sql(query).to_arrow_reader(ARROW_BATCH_ROWS)

    def file(self, query: str, rel: str) -> tuple[str, str]:
        """Run ``query`` into one staged file: (local path, where it is published)."""
        local = os.path.join(self.stage, rel)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        self.con.execute(
            f"COPY ({query}) TO {quote(local)} "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {FILE_ROW_GROUP_ROWS})"
        )
        return local, rel

    def publish(self, local: str, rel: str) -> None:
        discard_staging(self.storage, [rel])  # staged by a refresh killed before publishing
        staged = self.storage.staging_path(rel)
        shutil.move(local, staged)
        self.storage.publish(staged, rel)
        self.published.append(rel)

    def publish_partitions(
        self,
        table: str,
        staged: dict[str, str],
        existing: dict[str, list[str]],
        scope: set[str],
        *,
        everything: bool = False,
    ) -> None:
        """Replace each staged month's file of ``current/<table>``; drop the month's other
        files, and the files of months in ``scope`` (of every month, with ``everything``: a
        full rebuild) that no longer have rows."""
        for month, local in staged.items():
            rel = current_partition(table, month)
            self.publish(local, rel)
            for other in existing.get(month, []):
                if other != rel:
                    self.storage.remove(other)
        for month, rels in existing.items():
            if month not in staged and (everything or month in scope):
                for rel in rels:
                    self.storage.remove(rel)
