"""Builders of small window outputs for the marts tests, written with the real writer."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from intercom_enrichment.marts import refresh
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import BatchRecords, WindowWriter
from intercom_enrichment.windows import Window

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def conversation(conv_id: str, created: float, updated: float, **fields: Any) -> dict[str, Any]:
    """A conversation row; times in hours after T0; window lineage is set by ``write_window``."""
    return {
        "conversation_id": conv_id,
        "created_at": at(created),
        "updated_at": at(updated),
        "state": "open",
        "open": True,
        "enrichment_status": "enriched",
        **fields,
    }


def contact(contact_id: str, updated: float, **fields: Any) -> dict[str, Any]:
    return {"contact_id": contact_id, "updated_at": at(updated), **fields}


def part(conv_id: str, part_id: str, created: float, **fields: Any) -> dict[str, Any]:
    return {"conversation_id": conv_id, "part_id": part_id, "created_at": at(created), **fields}


def ticket(ticket_id: str, created: float, updated: float, **fields: Any) -> dict[str, Any]:
    """A ticket row; times in hours after T0."""
    return {
        "ticket_id": ticket_id,
        "created_at": at(created),
        "updated_at": at(updated),
        "ticket_type_id": "101",
        "ticket_type_name": "Bug report",
        "ticket_state_category": "submitted",
        "open": True,
        "enrichment_status": "enriched",
        **fields,
    }


def write_window(
    output: str,
    window: Window,
    conversations: list[dict[str, Any]],
    *,
    contacts: list[dict[str, Any]] = (),  # type: ignore[assignment]
    parts: list[dict[str, Any]] | None = None,
    tickets: list[dict[str, Any]] | None = None,
    ticket_parts: list[dict[str, Any]] | None = None,
    companies: list[dict[str, Any]] = (),  # type: ignore[assignment]
    extracted: datetime | None = None,
    complete: bool = True,
) -> None:
    """Publish one window the way a run does: files, then the manifest. A table given as None
    is one the run did not write (its earlier files of the window go)."""
    extracted = extracted or datetime.now(UTC)
    lineage = {"window_start": window.start, "window_end": window.end, "extracted_at": extracted}
    given = {
        "conversations": conversations,
        "contacts": contacts,
        "conversation_parts": parts,
        "tickets": tickets,
        "ticket_parts": ticket_parts,
        "companies": companies,
    }
    tables = [name for name, rows in given.items() if rows is not None]
    writer = WindowWriter(Storage(output), window, tables)
    writer.append(
        BatchRecords(
            rows={name: [{**r, **lineage} for r in rows or []] for name, rows in given.items()}
        )
    )
    writer.publish({"window": window.key, "finished_at": extracted.isoformat()}, complete=complete)


def hour_window(first: float, last: float) -> Window:
    return Window(at(first), at(last))


def write_dimensions(output: Path) -> None:
    """Dimension snapshots with exactly the columns of issue 10 (ids as strings)."""
    dims = output / "dimensions"
    dims.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "admin_id": ["11", "12"],
                "name": ["Aoife Byrne", "Bruno Costa"],
                "email": ["aoife@example.com", "bruno@example.com"],
                "job_title": ["Support", "Support lead"],
                "away_mode_enabled": [False, True],
                "team_ids": [["21"], ["21", "22"]],
            }
        ),
        dims / "admins.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "team_id": ["21", "22"],
                "name": ["Tier 1", "Billing"],
                "admin_ids": [["11", "12"], ["12"]],
            }
        ),
        dims / "teams.parquet",
    )


def read(path: Path) -> list[dict[str, Any]]:
    """Rows of a Parquet file or a Hive-partitioned folder."""
    import pyarrow.dataset as ds

    if path.is_dir():
        return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()
    return pq.read_table(path).to_pylist()


DERIVED = ("current", "marts")


def rows_of(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every derived table's rows, in one canonical order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for top in DERIVED:
        base = root / top
        if not base.exists():
            continue
        for path in sorted(base.iterdir()):
            files = [path] if path.is_file() else list(path.rglob("*.parquet"))
            if path.name.startswith(("_", ".")) or not files:
                continue  # a table without files is absent, whatever folders are left
            rows = read(path)
            found[f"{top}/{path.name}"] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return found


def full_rebuild(out: Path, scratch: Path) -> dict[str, list[dict[str, Any]]]:
    """``refresh --full`` of a copy of the window files (no current/, marts/)."""
    copy = scratch / "rebuild"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(out, copy, ignore=lambda d, names: [n for n in names if n in DERIVED])
    refresh(str(copy), full=True)
    return rows_of(copy)
