"""The access token never leaves the process: not in logs (captured at DEBUG, including
httpx/httpcore), Prefect's logs, artifacts, flow and task run states, exception texts, CLI
output, manifests, quarantine files, any Parquet file, nor anywhere in Prefect's database —
after a successful run, a run that fails on a 503 storm, and a run whose token is refused."""

import asyncio
import logging
import traceback
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from intercom_enrichment.sandbox import FaultRule, SandboxServer
from intercom_enrichment_flows.cli import app

# Imported here, not in the test: the first import of the flow module sets up Prefect's
# logging, which replaces the root logger's handlers, caplog's among them.
from intercom_enrichment_flows.enrich_conversations import enrich_conversations
from tests.fault_cases import FULL, invalid_record_tap, run_pipeline

TOKEN = "tok-SECRET-5f2a9c41e7b3d8a6"
FAULTS = (  # transient: retried and logged at DEBUG with the error text, then recovered
    FaultRule("conversations.search", "503", first_n=1),
    FaultRule("contacts.get", "drop", first_n=2),
    FaultRule("conversations.get", "malformed", first_n=3),
)
STORM = (  # never recovers: the run fails with the errors in its message
    FaultRule("contacts.search", "503", probability=1.0),
    FaultRule("contacts.get", "503", probability=1.0),
)
DEBUG_LOGGERS = ("intercom_enrichment", "httpx", "httpcore", "prefect")


def _point_at(monkeypatch: pytest.MonkeyPatch, server: SandboxServer) -> None:
    monkeypatch.setenv("INTERCOM_BASE_URL", server.url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("INTERCOM_MAX_ATTEMPTS", "2")


async def _prefect_texts(flow_run_ids: list[UUID]) -> dict[str, str]:
    """Everything Prefect's API holds about these runs, as text."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    texts: dict[str, str] = {}
    async with get_client() as client:
        logs = []
        while True:
            page = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=flow_run_ids)),
                limit=200,
                offset=len(logs),
            )
            logs += page
            if len(page) < 200:
                break
        texts["api logs"] = "\n".join(f"{log.name} {log.message}" for log in logs)
        # These runs' artifacts only: the session's database holds every test's.
        runs_filter = FlowRunFilter(id=FlowRunFilterId(any_=flow_run_ids))
        artifacts = await client.read_artifacts(flow_run_filter=runs_filter)
        texts["artifacts"] = "\n".join(
            f"{a.key} {a.type} {a.description} {a.data}" for a in artifacts
        )
        runs = await client.read_flow_runs(flow_run_filter=runs_filter)
        tasks = await client.read_task_runs(flow_run_filter=runs_filter)
        texts["flow runs"] = "\n".join(r.model_dump_json() for r in runs)
        texts["task runs"] = "\n".join(t.model_dump_json() for t in tasks)
    return texts


def _output_texts(root: Path) -> dict[str, str]:
    """Every file written, as text: JSON as is, Parquet rows and raw bytes (footer metadata)."""
    texts = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        text = raw.decode("latin-1")
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text += repr(table.to_pylist()) + repr(table.schema.metadata)
        texts[str(path.relative_to(root))] = text
    return texts


def _database_bytes() -> tuple[Path, bytes]:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value())
    folder = Path(url.split(":///", 1)[1]).parent
    return folder, b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def _exception_texts(state: Any) -> str:
    exc = state.result(raise_on_failure=False)
    assert isinstance(exc, BaseException), exc
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(state.message)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_the_token_appears_nowhere(
    sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    for name in DEBUG_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    world = {"token": TOKEN, "conversations": 120, "contacts": 50}
    runs, exceptions = [], []

    ok = sandbox(**world, faults=FAULTS)
    _point_at(monkeypatch, ok)
    window = {"start": ok.world.config.window_start, "end": ok.world.config.window_end}
    state = enrich_conversations(
        **window,
        output=str(tmp_path / "ok"),
        include_parts=True,
        include_segments=True,
        return_state=True,
    )
    assert state.is_completed(), state.message
    runs.append(state.state_details.flow_run_id)
    assert ok.stats.snapshot()["responses"][200] > 100  # the token was used, and accepted
    tap = invalid_record_tap()  # the plain pipeline, to get a quarantine file written too
    run_pipeline(ok, tmp_path / "plain", options=FULL, tap=tap)
    assert tap.changed == 1

    storm = sandbox(**world, faults=STORM)
    _point_at(monkeypatch, storm)
    state = enrich_conversations(**window, output=str(tmp_path / "storm"), return_state=True)
    assert state.is_failed() and "503" in state.message
    runs.append(state.state_details.flow_run_id)
    exceptions.append(_exception_texts(state))

    refused = sandbox(conversations=20, contacts=10)  # expects another token: 401
    _point_at(monkeypatch, refused)
    state = enrich_conversations(**window, output=str(tmp_path / "refused"), return_state=True)
    assert state.is_failed() and "401" in state.message
    runs.append(state.state_details.flow_run_id)
    exceptions.append(_exception_texts(state))
    cli = CliRunner().invoke(
        app, ["run", "--start", "2026-10-01", "--end", "2026-10-02", "--output", str(tmp_path)]
    )
    assert cli.exit_code == 2 and "401" in cli.output

    haystacks = {
        "captured logs": caplog.text
        + "\n".join(repr(r.__dict__) for r in caplog.records),  # args, extras, exc_info
        "exceptions": "\n".join(exceptions),
        "cli output": cli.output,
        **asyncio.run(_prefect_texts(runs)),
        **_output_texts(tmp_path),
    }
    # Not vacuous: what is searched holds what it should.
    names = {r.name for r in caplog.records}
    assert {"intercom_enrichment.api.client", "httpx", "httpcore.http11"} <= names
    assert "retrying after" in caplog.text and "HTTP Request: POST" in caplog.text
    assert "could not be enriched" in haystacks["api logs"]
    assert "enrichment-summary" in haystacks["artifacts"]
    assert any(key.endswith(".parquet") for key in haystacks)
    assert any("_runs/" in key for key in haystacks)
    assert any("_quarantine/" in key for key in haystacks)

    for where, text in haystacks.items():
        assert TOKEN not in text, f"the token leaked into {where}"
        assert TOKEN[4:] not in text, f"part of the token leaked into {where}"
    for where in ("captured logs", "api logs", "exceptions", "cli output", "task runs"):
        lowered = haystacks[where].lower()
        assert "authorization" not in lowered and "bearer" not in lowered, where

    folder, database = _database_bytes()
    assert b"enrich-conversations" in database, folder  # the right database, readable
    assert TOKEN.encode() not in database
