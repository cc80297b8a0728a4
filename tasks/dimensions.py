"""Task: the run's snapshot of teammates, teams, tags and segments (before the batches)."""

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from intercom_enrichment.client import IntercomClient
from intercom_enrichment.dimensions import DimensionSnapshot, snapshot_dimensions
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.pii import PiiPolicy
from intercom_enrichment.settings import IntercomSettings
from intercom_enrichment.storage import Storage
from tasks.budget import GlobalLimitGate
from tasks.enrichment import retry_transient


@task(
    name="snapshot-dimensions",
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
async def snapshot_dimensions_task(
    settings: IntercomSettings, output: str, pii: PiiPolicy, global_limit: str | None = None
) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
    """Four GETs; returns the snapshot (its tag id → name map feeds EnrichOptions.tag_names)."""
    gate = GlobalLimitGate(global_limit) if global_limit else None
    async with IntercomClient(settings, gate=gate) as client:
        snapshot = await snapshot_dimensions(client, Storage(output), pii)
    get_run_logger().info(
        "dimension snapshots: %s", ", ".join(f"{k} {v}" for k, v in snapshot.rows.items())
    )
    return snapshot, snapshot.metrics(client)
