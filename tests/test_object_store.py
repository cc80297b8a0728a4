"""Output to an S3-compatible object store: a real moto server on loopback, read back with
pyarrow's own S3 client; a backfill killed mid-range resumes there to the same dataset."""

import json
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from .backfill_cli import start_backfill

START = datetime(2026, 10, 1, tzinfo=UTC)
HOURS = 6

pytestmark = pytest.mark.usefixtures("prefect_harness")


def arrow_s3(env: dict[str, str]) -> pafs.S3FileSystem:
    host = env["AWS_ENDPOINT_URL"].removeprefix("http://")
    return pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=host,
        scheme="http",
        region="us-east-1",
    )


def rows(table) -> list[dict]:  # type: ignore[no-untyped-def]
    data = table.drop_columns(["extracted_at"]).to_pylist()
    return sorted(data, key=lambda r: (str(r.get("conversation_id")), str(r.get("contact_id"))))


def read(root: str, table: str, fs: pafs.FileSystem | None = None):  # type: ignore[no-untyped-def]
    return ds.dataset(
        f"{root}/{table}", filesystem=fs, format="parquet", partitioning="hive"
    ).to_table()


def test_a_window_written_to_s3_reads_back_like_a_local_one(
    s3, sandbox, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    server = sandbox(conversations=300, contacts=90)
    monkeypatch.setenv("INTERCOM_BASE_URL", server.url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", server.token)
    window = {"start": START, "end": START + timedelta(days=1), "include_parts": True}
    remote = enrich_conversations(output="s3://lake/one", **window)
    local = enrich_conversations(output=str(tmp_path), **window)
    assert remote["files"] == local["files"]
    fs = arrow_s3(s3)
    for table in ("conversations", "contacts", "conversation_parts"):
        assert rows(read("lake/one", table, fs)) == rows(read(str(tmp_path), table)), table
    manifest = fs.open_input_stream("lake/one/_runs/20261001T000000Z_20261002T000000Z.json").read()
    assert json.loads(manifest)["status"] == "completed"
    names = [info.path for info in fs.get_file_info(pafs.FileSelector("lake/one", recursive=True))]
    assert not [n for n in names if n.endswith(".tmp") or "/." in n]  # nothing staged is visible


def completed(env: dict[str, str], prefix: str) -> int:
    fs = arrow_s3(env)
    infos = fs.get_file_info(pafs.FileSelector(f"lake/{prefix}/_runs", allow_not_found=True))
    done = 0
    for info in infos:
        if not info.path.endswith(".json"):
            continue  # the write probe
        with fs.open_input_stream(info.path) as fh:
            done += json.loads(fh.read())["status"] == "completed"
    return done


def backfill(server, output: str, env: dict[str, str]) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    return start_backfill(server, output, START, HOURS, env=env)


@pytest.mark.slow
def test_killed_backfill_resumes_on_s3(s3, sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(
        conversations=240,
        contacts=80,
        window_start=START,
        window_end=START + timedelta(hours=HOURS),
        latency_ms=(5, 15),
    )
    reference = backfill(server, str(tmp_path / "reference"), s3)
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err[-3000:]

    server.hold.hold_when(lambda: completed(s3, "resumed") >= 2)  # then kill: see test_backfill
    proc = backfill(server, "s3://lake/resumed", s3)
    assert server.hold.held.wait(240), "the backfill never reached its third window"
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    server.hold.release()
    assert 2 <= completed(s3, "resumed") < HOURS

    proc = backfill(server, "s3://lake/resumed", s3)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert "already complete" in out
    fs = arrow_s3(s3)
    for table in ("conversations", "contacts"):
        assert rows(read("lake/resumed", table, fs)) == rows(
            read(str(tmp_path / "reference"), table)
        )
    assert completed(s3, "resumed") == HOURS
