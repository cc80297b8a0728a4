"""Task: the run's snapshot of teammates, teams, tags and segments (before the batches)."""

import asyncio

from prefect import get_run_logger, task

from intercom_enrichment.dimensions import DimensionSnapshot
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.pii import PiiPolicy
from intercom_enrichment.pipeline import snapshot_measured
from intercom_enrichment.settings import IntercomSettings
from tasks.budget import client_for
from tasks.enrichment import RETRY


@task(name="snapshot-dimensions", **RETRY)
def snapshot_dimensions_task(
    settings: IntercomSettings, output: str, pii: PiiPolicy, global_limit: str | None = None
) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
    """Four GETs; returns the snapshot (its tag id → name map feeds EnrichOptions.tag_names).

    A sync task with its own event loop, *called* by ``TaskExecutor`` in the flow's process:
    it writes ``output`` like the flow does, whatever the task runner. Its result holds
    teammates' names and emails: never persisted (``RETRY`` says ``persist_result=False``).
    """

    client = client_for(settings, global_limit)
    dims, metrics = asyncio.run(snapshot_measured(client, output, pii))
    get_run_logger().info(
        "dimension snapshots: %s", ", ".join(f"{k} {v}" for k, v in dims.rows.items())
    )
    return dims, metrics
