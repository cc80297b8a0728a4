"""One window end to end — the one definition of a window's work, whoever runs it.

    list → plan batches → enrich batches (in order) → write → reduce metrics → publish →
    completeness

``run_pipeline`` is that sequence, written once. *How* each step runs is the ``WindowExecutor``
it is given: ``AsyncioExecutor`` (below) runs the steps as coroutines in one event loop, with no
orchestration — the tests, the fault matrix and the benchmarks use it; the Prefect flow
(``flows/enrich_conversations.py``) passes an executor whose steps are Prefect tasks. Either way
the same code lists, plans, writes, decides completeness and publishes.

Layout and invariants of what is written: docs/data-contract.md.
"""

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import SEARCH_PAGE_SIZE, IntercomSettings
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.rows import Lineage
from intercom_enrichment.objects.schema import SCHEMA_VERSION
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import BatchRecords, WindowWriter, WrittenFile
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.windows import Window

from .batching import ConversationBatch, plan_positions
from .dimensions import DimensionSnapshot, snapshot_dimensions
from .enrich import EnrichOptions, enrich_batch, listing_metrics
from .listing import Listing, list_window
from .lookup import ContactLookup
from .spill import SpilledBatches

BATCHES_IN_FLIGHT = 4


@dataclass(frozen=True)
class WindowJob:
    window: Window
    output: str
    batch_size: int = 2000
    options: EnrichOptions = field(default_factory=EnrichOptions)

    @property
    def tables(self) -> list[str]:
        return ["conversations", "contacts"] + (
            ["conversation_parts"] if self.options.include_parts else []
        )

    def manifest(
        self,
        settings: IntercomSettings,
        metrics: EnrichmentMetrics,
        *,
        started: datetime,
        flow_run_id: str | None,
    ) -> dict[str, Any]:
        """The run manifest (never a secret: the token is not among the parameters)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "window": {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()},
            "parameters": {
                "output": self.output,
                "batch_size": self.batch_size,
                "include_parts": self.options.include_parts,
                "include_segments": self.options.include_segments,
                "pii": self.options.pii.mode,
                "api_version": settings.api_version,
                "base_url": settings.public_base_url,
            },
            "flow_run_id": flow_run_id,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "metrics": metrics.to_dict(),
        }


def incomplete_reason(metrics: EnrichmentMetrics) -> str | None:
    """Why a written window must not count as complete, or None."""
    problems = metrics.invariant_violations()
    if problems:
        return "metrics invariants violated: " + "; ".join(problems)
    if metrics.status_failed or metrics.parts_fetch_failed or metrics.segments_fetch_failed:
        return (
            f"{metrics.status_failed} conversations could not be enriched, "
            f"{metrics.parts_fetch_failed} could not get their parts and "
            f"{metrics.segments_fetch_failed} contacts their segments after retries "
            f"({dict(metrics.failure_reasons)}); rows are written with "
            "enrichment_status=failed; rerun the window to repair it"
        )
    return None


BatchResult = tuple[BatchRecords, EnrichmentMetrics]


class WindowExecutor(Protocol):
    """How the steps of ``run_pipeline`` that talk to Intercom (or reduce) are executed."""

    def list_window(self, window: Window) -> tuple[Listing, EnrichmentMetrics]:
        """Every conversation of the window, and what listing them cost."""
        ...

    def enrich(
        self, batches: Sequence[ConversationBatch], lineage: Lineage, options: EnrichOptions
    ) -> Iterator[BatchResult]:
        """Each batch's ``(records, metrics)``, yielded in batch order (so reruns write the
        same files), with a bounded number of batches in flight."""
        ...

    def dimensions(
        self, output: str, pii: PiiPolicy
    ) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
        """Snapshot admins, teams, tags and segments into ``output`` (dimensions.py)."""
        ...

    def reduce(self, parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
        """The run's metrics, summed once."""
        ...


@dataclass(frozen=True)
class WindowResult:
    metrics: EnrichmentMetrics
    files: list[WrittenFile]
    incomplete: str | None  # why the window is not complete, or None


def run_pipeline(
    settings: IntercomSettings,
    job: WindowJob,
    executor: WindowExecutor,
    *,
    flow_run_id: str | None = None,
    started: datetime | None = None,
) -> WindowResult:
    """List, enrich and write one window; publish its files and its manifest (last).

    A window whose lookups still failed after retries is published with its manifest marked
    ``incomplete`` (``WindowResult.incomplete`` says why); callers decide how to fail.
    Anything raised before publication leaves the published files as they were.
    """
    started = started or datetime.now(UTC)
    with Storage(job.output) as storage:
        storage.check_writable()
        return _run(settings, job, executor, storage, flow_run_id, started)


def _run(
    settings: IntercomSettings,
    job: WindowJob,
    executor: WindowExecutor,
    storage: Storage,
    flow_run_id: str | None,
    started: datetime,
) -> WindowResult:
    lineage = Lineage(job.window, started)
    # The window's lease first (lease.py): a second run of this window stops here, before it
    # has listed anything.
    writer = WindowWriter(storage, job.window, job.tables, run_id=flow_run_id)
    try:
        listing, listed = executor.list_window(job.window)
        try:
            # Planning needs only ids and contacts; each batch is read back from the listing's
            # spill file when its turn comes (spill.py), so memory follows the batch size.
            # Batches are bounded by the batch size too: a contact with more conversations is
            # looked up by one batch and handed on to continuation batches, enriched after
            # every owner batch (batching._bounded).
            plans = plan_positions(listing.entries.contacts, batch_size=job.batch_size)
            owners = [p for p in plans if not p.continuation]
            continuations = [p for p in plans if p.continuation]
            quarantined = job.options.pii.scrub_quarantine(listing.quarantine)
            # Names of teammates, teams, tags, segments: after a listing that succeeded (a run
            # that fails there publishes nothing); contacts' tags are ids the snapshot names.
            dims, dims_metrics = executor.dimensions(job.output, job.options.pii)
            options = replace(job.options, tag_names=dims.tag_names)
            parts = [listed, dims_metrics]
            known = ContactLookup()  # what owner batches hand on to continuation batches

            def enrich(batches: SpilledBatches) -> None:
                for records, metrics in executor.enrich(batches, lineage, options):
                    if records.carried is not None:
                        known.update(records.carried)
                    writer.append(records)
                    parts.append(metrics)

            enrich(SpilledBatches(owners, listing.spill, listing.entries))
            if continuations:
                enrich(SpilledBatches(continuations, listing.spill, listing.entries, known))
        finally:
            listing.close()
        writer.append(BatchRecords(quarantine=quarantined))
        total = executor.reduce(parts)
        reason = incomplete_reason(total)
        manifest = job.manifest(settings, total, started=started, flow_run_id=flow_run_id)
        files = writer.publish(manifest, complete=reason is None)
    except BaseException:
        writer.abort()
        raise
    return WindowResult(total, files, reason)


async def list_measured(
    client: IntercomClient, window: Window, *, per_page: int = SEARCH_PAGE_SIZE
) -> tuple[Listing, EnrichmentMetrics]:
    """The listing step with ``client`` (opened and closed here), and what it cost."""
    async with client:
        listing = await list_window(client, window, per_page=per_page)
    return listing, listing_metrics(listing, client)


async def snapshot_measured(
    client: IntercomClient, output: str, pii: PiiPolicy
) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
    """The dimension step with ``client`` (opened and closed here), and what it cost."""
    with Storage(output) as storage:
        async with client:
            dims = await snapshot_dimensions(client, storage, pii)
    return dims, dims.metrics(client)


TransportFactory = Callable[[], httpx.AsyncBaseTransport | None]


class AsyncioExecutor:
    """The window's steps as coroutines in one event loop of this thread: no orchestration.

    Every batch opens its own client (its own request counts) on the budget shared with the
    listing. ``transport`` (tests) makes each client's transport; ``budget`` defaults to the
    process-wide budget of the app.
    """

    def __init__(
        self,
        settings: IntercomSettings,
        *,
        batches_in_flight: int = BATCHES_IN_FLIGHT,
        per_page: int = SEARCH_PAGE_SIZE,
        budget: RateBudget | None = None,
        transport: TransportFactory | None = None,
    ) -> None:
        self.settings = settings
        self.batches_in_flight = batches_in_flight
        self.per_page = per_page
        self.budget = budget
        self._transport = transport or (lambda: None)
        self._runner = asyncio.Runner()

    def __enter__(self) -> "AsyncioExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.close()

    def _client(self) -> IntercomClient:
        return IntercomClient(self.settings, budget=self.budget, transport=self._transport())

    def list_window(self, window: Window) -> tuple[Listing, EnrichmentMetrics]:
        return self._runner.run(list_measured(self._client(), window, per_page=self.per_page))

    def enrich(
        self, batches: Sequence[ConversationBatch], lineage: Lineage, options: EnrichOptions
    ) -> Iterator[BatchResult]:
        async def one(batch: ConversationBatch) -> BatchResult:
            async with self._client() as client:
                return await enrich_batch(client, batch, lineage=lineage, options=options)

        async def group(chunk: Sequence[ConversationBatch]) -> list[BatchResult]:
            return await gather_all(*(one(b) for b in chunk))

        step = self.batches_in_flight
        for first in range(0, len(batches), step):
            yield from self._runner.run(group(batches[first : first + step]))

    def dimensions(
        self, output: str, pii: PiiPolicy
    ) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
        return self._runner.run(snapshot_measured(self._client(), output, pii))

    def reduce(self, parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
        return EnrichmentMetrics.total(parts)


def run_window(
    settings: IntercomSettings, job: WindowJob, *, batches_in_flight: int = BATCHES_IN_FLIGHT
) -> WindowResult:
    """``run_pipeline`` without Prefect, in one event loop of this thread."""
    with AsyncioExecutor(settings, batches_in_flight=batches_in_flight) as executor:
        return run_pipeline(settings, job, executor)
