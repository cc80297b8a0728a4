"""Deployments for real: a temporary `prefect server start`, a process work pool and worker,
`prefect deploy --all` of deployments/prefect.yaml, a scheduled run against the sandbox with
the token in a Secret block; a second run of the same slot writes the same files."""

import asyncio
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from intercom_enrichment.objects.registry import TABLES

from .prefect_server import BIN, prefect_cli, prefect_env, prefect_server

ROOT = Path(__file__).resolve().parents[1]
SLOT = datetime(2026, 10, 1, 5, 10, tzinfo=UTC)  # hourly: window [04:00, 05:00) with 10 min lag
WINDOW_KEY = "20261001T040000Z_20261001T050000Z"


async def _scheduled_run(api: str, output: str) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    async with get_client() as client:
        deployment = await client.read_deployment_by_name("enrich-conversations/hourly")
        run = await client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"output": output, "token_secret_block": "intercom-token"},
            state=Scheduled(scheduled_time=SLOT),
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            run = await client.read_flow_run(run.id)
            if run.state and run.state.is_final():
                break
            await asyncio.sleep(1)
        artifacts = await client.read_artifacts()
        return run, {a.key for a in artifacts if a.key}


def rows_by_file(root: Path) -> dict[str, list[dict]]:
    return {
        str(p.relative_to(root)): pq.read_table(p).drop_columns(["extracted_at"]).to_pylist()
        for p in sorted(root.rglob("*.parquet"))
        if p.relative_to(root).parts[0] in TABLES  # window tables; current/, marts/ derive
    }


@pytest.mark.slow
def test_deploy_schedule_run_and_rerun(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = sandbox(conversations=480, contacts=150)
    home = tmp_path / "prefect-home"
    home.mkdir()
    out = tmp_path / "out"
    with prefect_server(home) as api:
        env = prefect_env(home, api)
        prefect_cli(env, "work-pool", "create", "intercom", "--type", "process", cwd=ROOT)
        deployed = prefect_cli(
            env, "deploy", "--all", "--prefect-file", "deployments/prefect.yaml", cwd=ROOT
        )
        assert "hourly" in deployed and "daily" in deployed and "backfill" in deployed
        with temporary_settings(updates={PREFECT_API_URL: api}):
            Secret(value=server.token).save("intercom-token", overwrite=True)
        worker_env = {**env, "INTERCOM_BASE_URL": server.url, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        worker_log = open(home / "worker.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "intercom"],
            env=worker_env,
            cwd=ROOT,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with temporary_settings(updates={PREFECT_API_URL: api}):
                first, keys = asyncio.run(_scheduled_run(api, str(out)))
                assert first.state.is_completed(), (
                    first.state,
                    (home / "worker.log").read_text()[-3000:],
                )
                assert first.name.startswith("enrich scheduled 2026-10-01T05:10")
                assert {"enrichment-metrics-hourly", "enrichment-summary-hourly"} <= keys
                before = rows_by_file(out)
                assert before and all(WINDOW_KEY in path for path in before)
                assert (out / "dimensions" / "admins.parquet").exists()  # the run's snapshot
                assert (out / "_runs" / f"{WINDOW_KEY}.json").exists()
                second, _ = asyncio.run(_scheduled_run(api, str(out)))
                assert second.state.is_completed()
                assert rows_by_file(out) == before  # same slot, same window, same files
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
            worker_log.close()
    logs = (home / "worker.log").read_text()
    assert server.token not in logs
