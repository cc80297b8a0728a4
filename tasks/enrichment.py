"""Tasks that talk to Intercom. Each opens its own client inside its own event loop."""

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from intercom_enrichment.batching import ConversationBatch
from intercom_enrichment.client import IntercomClient
from intercom_enrichment.enrich import EnrichOptions, enrich_batch, listing_metrics
from intercom_enrichment.errors import RetryableError
from intercom_enrichment.listing import Listing, list_window
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.rows import Lineage
from intercom_enrichment.settings import IntercomSettings
from intercom_enrichment.windows import Window
from intercom_enrichment.writer import BatchRecords
from tasks.budget import GlobalLimitGate


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a whole task only when it failed on a transient API error.

    ``_sync=True``: in an async task ``state.result()`` would return an un-awaited coroutine,
    and the condition would silently never hold.
    """
    return isinstance(state.result(raise_on_failure=False, _sync=True), RetryableError)


def _gate(global_limit: str | None) -> GlobalLimitGate | None:
    return GlobalLimitGate(global_limit) if global_limit else None


_RETRY = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
    "cache_policy": NO_CACHE,  # inputs are large and results are not persisted
}


@task(name="list-conversations", **_RETRY)
async def list_conversations(
    settings: IntercomSettings, window: Window, global_limit: str | None = None
) -> tuple[Listing, EnrichmentMetrics]:
    async with IntercomClient(settings, gate=_gate(global_limit)) as client:
        listing = await list_window(client, window)
    metrics = listing_metrics(listing, client)
    get_run_logger().info(
        "listed %d conversations in %s (%d pages, %d quarantined, %d retries, %d rate-limited)",
        len(listing.conversations),
        window.key,
        listing.pages,
        len(listing.quarantine),
        metrics.api_retries,
        metrics.api_rate_limited,
    )
    return listing, metrics


@task(name="enrich-batch", task_run_name="enrich-batch-{batch.index}", **_RETRY)
async def enrich_conversation_batch(
    settings: IntercomSettings,
    batch: ConversationBatch,
    lineage: Lineage,
    options: EnrichOptions,
    global_limit: str | None = None,
) -> tuple[BatchRecords, EnrichmentMetrics]:
    async with IntercomClient(settings, gate=_gate(global_limit)) as client:
        records, metrics = await enrich_batch(client, batch, lineage=lineage, options=options)
    get_run_logger().info(
        "batch %d: %d conversations, %d contacts (%d found, %d not found, %d failed), "
        "%d parts; %d requests, %d retries, %d rate-limited, %.1f s waiting for the rate limit",
        batch.index,
        metrics.conversations_written,
        metrics.contacts_unique,
        metrics.contacts_fetched,
        metrics.contacts_not_found,
        metrics.contact_lookups_failed,
        metrics.parts_written,
        metrics.api_requests,
        metrics.api_retries,
        metrics.api_rate_limited,
        metrics.rate_limit_wait_seconds,
    )
    return records, metrics


@task(name="reduce-metrics", cache_policy=NO_CACHE)
def reduce_metrics(parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
    return EnrichmentMetrics.total(parts)
