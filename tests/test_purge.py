"""The purge of deleted conversations, on its own: a window published after a purge is searched
again; a failed rewrite puts the manifest back; quarantine lines go too; a window run waits for
a purge's brief lease instead of failing."""

import json
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from intercom_enrichment.objects.conversations import CONVERSATION
from intercom_enrichment.output.purge import HOLDER, purge_deleted
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import BatchRecords, WindowLease, WindowWriter, read_manifest

from .marts_fixtures import conversation, hour_window, part, write_window

TABLES = (CONVERSATION.table, CONVERSATION.parts)


def ids_of(out: Path, table: str = "conversations") -> set[str]:
    key = "conversation_id"
    return {r[key] for p in (out / table).rglob("*.parquet") for r in pq.read_table(p).to_pylist()}


def test_a_window_published_after_a_purge_is_searched_for_every_deleted_id(tmp_path: Path) -> None:
    """Run A listed before X was deleted and publishes after run B's purge recorded X: the next
    purge must still find X in A's window (its manifest changed since it was searched)."""
    out, storage = str(tmp_path), Storage(str(tmp_path))
    write_window(out, hour_window(1, 2), [conversation("2", 1, 1.5)])
    assert purge_deleted(storage, TABLES, {"X"}).windows == []  # B: nothing holds X yet
    write_window(out, hour_window(0, 1), [conversation("X", 0, 0.5), conversation("1", 0, 0.5)])
    result = purge_deleted(storage, TABLES, {"X"})  # the next run: X is not new, yet searched
    assert result.windows == [hour_window(0, 1).key]
    assert ids_of(tmp_path) == {"1", "2"}
    again = purge_deleted(storage, TABLES, {"X"})
    assert again.windows == []  # recorded clean: searched for new ids only


def test_a_failed_rewrite_puts_the_manifest_back(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out, storage = str(tmp_path), Storage(str(tmp_path))
    window = hour_window(0, 1)
    write_window(out, window, [conversation("X", 0, 0.5), conversation("1", 0, 0.5)])
    before = (tmp_path / "_runs" / f"{window.key}.json").read_text()

    publish = Storage.publish

    def broken(self: Storage, staged: str, rel: str) -> None:
        if rel.endswith(".parquet"):  # the rewritten file cannot be published
            raise OSError("disk full")
        publish(self, staged, rel)

    monkeypatch.setattr(Storage, "publish", broken)
    with pytest.raises(OSError):
        purge_deleted(storage, TABLES, {"X"})
    assert (tmp_path / "_runs" / f"{window.key}.json").read_text() == before  # not the marker
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.undo()
    assert purge_deleted(storage, TABLES, {"X"}).windows == [window.key]  # the next one does it
    assert ids_of(tmp_path) == {"1"}


def test_the_quarantine_lines_of_a_deleted_conversation_go_too(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    window = hour_window(0, 1)
    writer = WindowWriter(storage, window, ["conversations", "conversation_parts"])
    records = BatchRecords(
        rows={
            "conversations": [{**conversation("1", 0, 0.5), **_lineage(window)}],
            "conversation_parts": [{**part("1", "p1", 0.2), **_lineage(window)}],
        },
        quarantine=[
            {"kind": "conversation", "id": "X", "reason": "bad", "record": {"body": "secret"}},
            {"kind": "contact", "id": "X", "reason": "bad", "record": None},  # another kind
        ],
    )
    writer.append(records)
    writer.publish({"window": window.key})
    result = purge_deleted(storage, TABLES, {"X"}, ["conversation"])
    assert result.windows == [window.key] and result.rows == {"_quarantine": 1}
    lines = (tmp_path / "_quarantine" / f"{window.key}.jsonl").read_text().splitlines()
    assert [json.loads(x)["kind"] for x in lines] == ["contact"]
    manifest = read_manifest(storage, window)
    assert manifest and {f["table"]: f["rows"] for f in manifest["files"]}["_quarantine"] == 1


def test_a_window_run_waits_for_a_purge_instead_of_failing(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    window = hour_window(0, 1)
    held = WindowLease(storage, window, f"{HOLDER}{window.key}").acquire()
    threading.Timer(1.0, held.release).start()
    began = time.monotonic()
    writer = WindowWriter(storage, window, ["conversations"])  # INTERCOM_LEASE_WAIT=0
    assert time.monotonic() - began >= 0.9
    writer.abort()


def _lineage(window) -> dict:  # type: ignore[no-untyped-def,type-arg]
    from .marts_fixtures import T0

    return {"window_start": window.start, "window_end": window.end, "extracted_at": T0}
