"""Parquet output: one schema per table, all-or-nothing files, reruns replace, manifests last."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from intercom_enrichment.errors import OutputError
from intercom_enrichment.objects.common import Lineage, to_table
from intercom_enrichment.objects.contacts import (
    CONTACTS,
    Contact,
    ContactLists,
    contact_details,
    contact_row,
)
from intercom_enrichment.objects.conversations import (
    CONVERSATION_PARTS,
    CONVERSATIONS,
    Conversation,
    PartList,
    conversation_row,
    part_rows,
)
from intercom_enrichment.objects.declaration import RowContext, Status
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import (
    BatchRecords,
    WindowWriter,
    read_manifest,
    window_completed,
)
from intercom_enrichment.windows import Window

from .fake_intercom import conversation

T0 = datetime(2026, 10, 1, 22, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=4))  # crosses midnight: two partitions
LINEAGE = Lineage(WINDOW, T0 + timedelta(days=1))


def rows(*offsets_hours: float, status: Status = Status.NO_CONTACT) -> list[dict]:
    out = []
    for i, h in enumerate(offsets_hours):
        conv = Conversation.model_validate(
            conversation(500 + i, int((T0 + timedelta(hours=h)).timestamp()), [])
        )
        out.append(conversation_row(conv, RowContext(status, LINEAGE, contact_details(None))))
    return out


def test_every_file_has_the_fixed_schema_even_when_columns_are_all_null(tmp_path: Path) -> None:
    writer = WindowWriter(Storage(str(tmp_path)), WINDOW, ["conversations", "contacts"])
    writer.append(BatchRecords(rows={"conversations": rows(0.5, 3.5)}))  # all contact columns null
    files = writer.publish({"schema_version": 1})
    conv_files = [f for f in files if f.table == "conversations"]
    assert sorted(f.path for f in conv_files) == [
        f"conversations/updated_date=2026-10-01/{WINDOW.key}.parquet",
        f"conversations/updated_date=2026-10-02/{WINDOW.key}.parquet",
    ]
    for f in conv_files:
        assert pq.read_schema(tmp_path / f.path).remove_metadata() == CONVERSATIONS.schema
    table = ds.dataset(tmp_path / "conversations", format="parquet", partitioning="hive").to_table()
    assert (
        table.num_rows == 2
        and table.schema.field("contact_email").type
        == CONVERSATIONS.schema.field("contact_email").type
    )
    assert CONTACTS.schema.field("contact_id").nullable is False


def test_nothing_is_visible_before_publish_and_abort_leaves_no_trace(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    first = WindowWriter(storage, WINDOW, ["conversations"])
    first.append(BatchRecords(rows={"conversations": rows(1)}))
    first.publish({})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    second = WindowWriter(storage, WINDOW, ["conversations"])
    second.append(BatchRecords(rows={"conversations": rows(1, 2)}))
    staged = [p for p in tmp_path.rglob("*.tmp")]
    assert staged and all(p.name.startswith(".") for p in staged)  # readers skip these
    assert (
        ds.dataset(tmp_path / "conversations", format="parquet", partitioning="hive").count_rows()
        == 1
    )
    second.abort()
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert after == before  # the published window is untouched


def test_rerun_replaces_files_and_removes_partitions_that_emptied(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    w1 = WindowWriter(storage, WINDOW, ["conversations"])
    w1.append(BatchRecords(rows={"conversations": rows(0.5, 3.5)}))
    w1.publish({})
    w2 = WindowWriter(storage, WINDOW, ["conversations"])
    w2.append(BatchRecords(rows={"conversations": rows(0.5)}))
    files = w2.publish({"flow_run_id": "x"})
    parquet = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.parquet"))
    assert parquet == [f"conversations/updated_date=2026-10-01/{WINDOW.key}.parquet"]
    manifest = read_manifest(storage, WINDOW)
    assert (
        manifest is not None
        and manifest["status"] == "completed"
        and window_completed(storage, WINDOW)
    )
    assert manifest["files"] == [{"path": files[0].path, "rows": 1, "table": "conversations"}]


def test_incomplete_runs_are_not_marked_complete(tmp_path: Path) -> None:
    storage = Storage(str(tmp_path))
    writer = WindowWriter(storage, WINDOW, ["conversations"])
    writer.append(
        BatchRecords(
            rows={"conversations": rows(1, status=Status.FAILED)},
            quarantine=[{"id": "9", "reason": "bad"}],
        )
    )
    writer.publish({}, complete=False)
    assert not window_completed(storage, WINDOW)
    lines = (tmp_path / "_quarantine" / f"{WINDOW.key}.jsonl").read_text().splitlines()
    assert [json.loads(line)["reason"] for line in lines] == ["bad"]


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="not writable"):
        Storage(str(blocker / "out")).check_writable()


def test_a_failed_upload_leaves_no_staged_file_and_close_removes_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Storage(str(tmp_path / "bucket"))
    storage.local = False  # treated as an object store: staged in a folder of its own, one put

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("the store said no")

    storage.write_text("_runs/a.json", "{}")
    folder = Path(storage.staging_path("x")).parent
    assert folder.is_dir() and not list(folder.iterdir())  # the upload took its staged file
    monkeypatch.setattr(storage.fs, "put_file", refuse)
    with pytest.raises(OSError):
        storage.write_text("_runs/b.json", "{}")
    assert not list(folder.iterdir())  # no staged file left behind by the failure
    storage.close()
    assert not folder.exists()


def test_a_failed_local_publish_leaves_no_staged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Storage(str(tmp_path))

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("intercom_enrichment.output.storage.os.replace", refuse)
    with pytest.raises(OSError):
        storage.write_text("_runs/a.json", "{}")
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "_runs" / "a.json").exists()


def test_a_row_key_that_the_schema_does_not_name_is_refused() -> None:
    """A typo where rows are built (``sla_stauts``) must fail, not write the column null."""
    with pytest.raises(ValueError, match="sla_stauts"):
        to_table([{"conversation_id": "1", "sla_stauts": "hit"}], CONVERSATIONS.schema)


def test_every_row_builder_uses_only_its_table_s_columns(examples: dict[str, object]) -> None:
    """The rows of a real conversation with parts and contact (the spec's examples) name only
    columns of their tables' schemas."""
    raw = examples["conversation_with_parts.v2.16.json"]
    conv = Conversation.model_validate(raw)
    contact = Contact.model_validate(examples["contact.v2.16.json"])
    lineage = Lineage(
        Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)),
        datetime.now(UTC),
    )
    lists = ContactLists.of(contact, tag_names={})
    built = {
        "conversations": (
            [
                conversation_row(
                    conv,
                    RowContext(Status.ENRICHED, lineage, contact_details(contact, None, lists)),
                )
            ],
            CONVERSATIONS.schema,
        ),
        "contacts": ([contact_row(contact, lineage, None, lists)], CONTACTS.schema),
        "conversation_parts": (
            part_rows(
                conv.id,
                PartList.model_validate(raw["conversation_parts"]).conversation_parts,
                lineage,
            ),
            CONVERSATION_PARTS.schema,
        ),
    }
    for table, (rows, schema) in built.items():
        assert rows, table
        for row in rows:
            assert set(row) == set(schema.names), (table, set(row) ^ set(schema.names))
