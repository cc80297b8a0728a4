"""Tasks that talk to Intercom, and ``TaskExecutor``: the window pipeline's steps as these tasks.

Each task opens its own client: the steps called in the flow's thread in an event loop of their
own, the batch tasks on the process's shared loop (shared_loop.py). Tasks that carry rows or raw
records (the listing, a batch's records) say ``persist_result=False``: those results must never
be pickled into Prefect's result storage, whatever ``PREFECT_RESULTS_PERSIST_BY_DEFAULT`` or a
cache policy says, because they hold personal data that the PII policy has not (yet) protected.
"""

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.tasks import exponential_backoff

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.errors import RetryableError
from intercom_enrichment.extract.batching import Batch
from intercom_enrichment.extract.dimensions import DimensionSnapshot
from intercom_enrichment.extract.enrich import EnrichOptions, enrich_batch
from intercom_enrichment.extract.listing import Listing
from intercom_enrichment.extract.pipeline import (
    BATCHES_IN_FLIGHT,
    BatchResult,
    companies_measured,
    list_measured,
    snapshot_measured,
)
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.common import Lineage
from intercom_enrichment.objects.declaration import SearchedObject, Snapshot
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.shared_loop import run_on_shared_loop
from intercom_enrichment.windows import Window
from intercom_enrichment_tasks.budget import client_for


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a whole task only when it failed on a transient API error.

    ``_sync=True`` is private Prefect API, kept on purpose: the condition runs inside the async
    task engine, where the public ``state.result()`` returns an un-awaited coroutine, and the
    condition would silently never hold (Prefect 3.9). ``tests/test_flow.py``
    (``test_task_retries_transient_errors_only``) fails if this stops working.
    """
    return isinstance(state.result(raise_on_failure=False, _sync=True), RetryableError)


RETRY = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
    "cache_policy": NO_CACHE,  # inputs are large; results hold records: never cached
    "persist_result": False,  # …nor pickled to result storage (see the module docstring)
}


@task(name="list-window", task_run_name="list-{obj.table.name}", **RETRY)
def list_objects(
    settings: IntercomSettings,
    obj: SearchedObject,
    window: Window,
    global_limit: str | None = None,
) -> tuple[Listing, EnrichmentMetrics]:
    """A sync task with its own event loop: ``TaskExecutor`` calls it in the flow's process."""

    client = client_for(settings, global_limit)
    listing, metrics = asyncio.run(list_measured(client, obj, window))
    get_run_logger().info(
        "listed %d %s in %s (%d pages, %d quarantined, %d retries, %d rate-limited)%s",
        len(listing.entries),
        obj.table.name,
        window.key,
        listing.pages,
        len(listing.quarantine),
        metrics.api_retries,
        metrics.api_rate_limited,
        f"; unavailable: {listing.unavailable}" if listing.unavailable else "",
    )
    return listing, metrics


@task(name="snapshot-dimensions", **RETRY)
def snapshot_dimensions_task(
    settings: IntercomSettings,
    output: str,
    pii: PiiPolicy,
    snapshots: Sequence[Snapshot],
    global_limit: str | None = None,
) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
    """One GET per list; returns the snapshot (its tag id → name map feeds
    EnrichOptions.tag_names).

    A sync task with its own event loop, *called* by ``TaskExecutor`` in the flow's process:
    it writes ``output`` like the flow does, whatever the task runner. Its result holds
    teammates' names and emails: never persisted (``RETRY`` says ``persist_result=False``).
    """
    client = client_for(settings, global_limit)
    dims, metrics = asyncio.run(snapshot_measured(client, output, pii, snapshots))
    get_run_logger().info(
        "dimension snapshots: %s", ", ".join(f"{k} {v}" for k, v in dims.rows.items())
    )
    return dims, metrics


async def _enrich(
    settings: IntercomSettings,
    batch: Batch[Any],
    lineage: Lineage,
    options: EnrichOptions,
    global_limit: str | None,
) -> tuple[BatchRecords, EnrichmentMetrics]:
    async with client_for(settings, global_limit) as client:
        return await enrich_batch(client, batch, lineage=lineage, options=options)


@task(name="enrich-batch", task_run_name="enrich-batch-{batch.index}", **RETRY)
def enrich_object_batch(
    settings: IntercomSettings,
    batch: Batch[Any],
    lineage: Lineage,
    options: EnrichOptions,
    global_limit: str | None = None,
) -> tuple[BatchRecords, EnrichmentMetrics]:
    """A sync task whose coroutine runs on the process's shared loop (shared_loop.py): the
    batches in flight share one loop instead of taking turns at the GIL from a loop each."""
    records, metrics = run_on_shared_loop(_enrich(settings, batch, lineage, options, global_limit))
    objects = ", ".join(
        f"{metrics.count(obj.metrics.written)} {obj.table.name}" for obj, _ in batch.groups
    )
    get_run_logger().info(
        "batch %d: %s, %d contacts (%d found, %d not found, %d failed), "
        "%d parts; %d requests, %d retries, %d rate-limited, %.1f s waiting for the rate limit",
        batch.index,
        objects or "nothing",
        metrics.contacts_unique,
        metrics.contacts_fetched,
        metrics.contacts_not_found,
        metrics.contact_lookups_failed,
        sum(metrics.count(obj.metrics.parts_written) for obj, _ in batch.groups),
        metrics.api_requests,
        metrics.api_retries,
        metrics.api_rate_limited,
        metrics.rate_limit_wait_seconds,
    )
    return records, metrics


@task(name="fetch-companies", **RETRY)
def fetch_companies_task(
    settings: IntercomSettings,
    ids: Sequence[str],
    lineage: Lineage,
    pii: PiiPolicy,
    global_limit: str | None = None,
) -> BatchResult:
    """The companies the window's contacts reference, once each (its result holds rows: never
    persisted)."""
    records, metrics = asyncio.run(
        companies_measured(client_for(settings, global_limit), ids, lineage, pii)
    )
    get_run_logger().info(
        "companies: %d asked, %d read, %d not found, %d failed%s",
        metrics.companies_referenced,
        metrics.companies_fetched,
        metrics.companies_not_found,
        metrics.company_lookups_failed,
        f"; unavailable: {', '.join(metrics.unavailable)}" if metrics.unavailable else "",
    )
    return records, metrics


@task(name="reduce-metrics", cache_policy=NO_CACHE, persist_result=False)
def reduce_metrics(parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
    return EnrichmentMetrics.total(parts)


class TaskExecutor:
    """``run_pipeline``'s steps as Prefect tasks: the listing task, ``enrich-batch`` submitted
    over the batches with a bounded number in flight (results taken in batch order),
    ``reduce-metrics``."""

    def __init__(
        self,
        settings: IntercomSettings,
        global_limit: str | None,
        batches_in_flight: int = BATCHES_IN_FLIGHT,
    ) -> None:
        self.settings = settings
        self.global_limit = global_limit
        self.batches_in_flight = batches_in_flight

    def list_window(self, obj: SearchedObject, window: Window) -> tuple[Listing, EnrichmentMetrics]:
        # Called, not submitted: the listing runs in this process (whatever the task runner),
        # so its spill file is on this machine, where the batches are read back from it.
        return list_objects(self.settings, obj, window, self.global_limit)

    def enrich(
        self, batches: Sequence[Batch[Any]], lineage: Lineage, options: EnrichOptions
    ) -> Iterator[BatchResult]:
        """A window of ``batches_in_flight`` batches slides over the batches: the next is
        submitted as soon as the oldest has answered, before that one is handed on to be
        written (so ``batches_in_flight`` stay in flight while it is), not once a whole group
        has (a group waited for its slowest batch). Results are taken in batch order, so reruns
        write the same files; at most ``batches_in_flight`` batches' records are in memory, plus
        the one being written."""
        pending: deque[PrefectFuture[BatchResult]] = deque()
        try:
            for batch in batches:
                full = len(pending) == self.batches_in_flight
                oldest = pending.popleft().result() if full else None
                pending.append(  # before the oldest is written, not after
                    enrich_object_batch.submit(
                        self.settings, batch, lineage, options, self.global_limit
                    )
                )
                if oldest is not None:
                    yield oldest
            while pending:  # in batch order, so reruns write the same files
                yield pending.popleft().result()
        finally:
            # A batch failed or the writer stopped: the batches still in flight end before
            # the window gives up (their records come from the listing's spill, which the
            # pipeline then removes). Each is bounded by the client's timeouts and waits.
            for future in pending:
                future.wait()

    def companies(self, ids: Sequence[str], lineage: Lineage, pii: PiiPolicy) -> BatchResult:
        return fetch_companies_task(self.settings, ids, lineage, pii, self.global_limit)

    def dimensions(
        self, output: str, pii: PiiPolicy, snapshots: Sequence[Snapshot]
    ) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
        # Called like the listing: it writes the output from the flow's process.
        return snapshot_dimensions_task(self.settings, output, pii, snapshots, self.global_limit)

    def reduce(self, parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
        return reduce_metrics(parts)
