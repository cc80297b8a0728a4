"""One window end to end — the one definition of a window's work, whoever runs it.

    for each searched object (conversations, tickets): list →
    snapshot the dimensions → for each object: plan batches → enrich batches (in order) → write
    → reduce metrics → publish → completeness

``run_pipeline`` is that sequence, written once, over the declared objects
(``objects.registry``). *How* each step runs is the ``WindowExecutor`` it is given:
``AsyncioExecutor`` (below) runs the steps as coroutines in one event loop, with no
orchestration — the tests, the fault matrix and the benchmarks use it; the Prefect flow
(``flows/enrich_conversations.py``) passes an executor whose steps are Prefect tasks. Either way
the same code lists, plans, writes, decides completeness and publishes.

Layout and invariants of what is written: docs/data-contract.md.
"""

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import SEARCH_PAGE_SIZE, IntercomSettings
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import UNAVAILABLE, OutputError
from intercom_enrichment.memory import collector_paused, release_memory
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.common import Lineage
from intercom_enrichment.objects.companies import COMPANIES
from intercom_enrichment.objects.contacts import CONTACTS
from intercom_enrichment.objects.declaration import SearchedObject, Snapshot, Status
from intercom_enrichment.objects.registry import SCHEMA_VERSION, SEARCHED, SNAPSHOTS
from intercom_enrichment.output.purge import PurgeResult, purge_deleted
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import BatchRecords, WindowWriter, WrittenFile
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.windows import Window

from .batching import Batch, Concatenated, plan_positions
from .companies import COMPANIES_PER_STEP, fetch_companies
from .dimensions import DimensionSnapshot, snapshot_dimensions
from .enrich import EnrichOptions, enrich_batch, listing_metrics
from .listing import Listing, list_window
from .lookup import ContactLookup
from .spill import SpilledBatches

log = logging.getLogger(__name__)

BATCHES_IN_FLIGHT = 4


@dataclass(frozen=True)
class WindowJob:
    window: Window
    output: str
    batch_size: int = 2000
    options: EnrichOptions = field(default_factory=EnrichOptions)
    objects: tuple[SearchedObject, ...] = SEARCHED  # the searched objects this run reads
    companies: bool = True  # read the companies the contacts reference

    @property
    def snapshots(self) -> tuple[Snapshot, ...]:
        """The dimension snapshots this run replaces: every one whose object it reads."""
        options = {o.option: True for o in self.objects if o.option}
        return tuple(s for s in SNAPSHOTS if s.enabled(options))

    @property
    def tables(self) -> list[str]:
        """The tables this run writes: each object's, its parts' with parts on, contacts."""
        names = [o.table.name for o in self.objects] + [CONTACTS.name]
        names += [COMPANIES.name] if self.companies else []
        if self.options.include_parts:
            names += [o.parts.name for o in self.objects]
        return names

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
                "objects": [o.table.name for o in self.objects],
                "companies": self.companies,
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
    failed = {
        obj.kind: (
            metrics.count(obj.metrics.of_status(Status.FAILED)),
            metrics.count(obj.metrics.parts_fetch_failed),
        )
        for obj in SEARCHED
    }
    others = metrics.segments_fetch_failed or metrics.company_lookups_failed
    if any(a or b for a, b in failed.values()) or others:
        objects = ", ".join(
            f"{a} {kind}s could not be enriched and {b} could not get their parts"
            for kind, (a, b) in failed.items()
            if a or b
        )
        return (
            f"{objects or 'every object was enriched'}; "
            f"{metrics.segments_fetch_failed} contacts could not get their segments and "
            f"{metrics.company_lookups_failed} companies could not be read after "
            f"retries ({dict(metrics.failure_reasons)}); rows are written with "
            "enrichment_status=failed; rerun the window to repair it"
        )
    return None


BatchResult = tuple[BatchRecords, EnrichmentMetrics]


class WindowExecutor(Protocol):
    """How the steps of ``run_pipeline`` that talk to Intercom (or reduce) are executed."""

    def list_window(self, obj: SearchedObject, window: Window) -> tuple[Listing, EnrichmentMetrics]:
        """Every object of ``obj``'s kind in the window, and what listing them cost."""
        ...

    def enrich(
        self, batches: Sequence[Batch[Any]], lineage: Lineage, options: EnrichOptions
    ) -> Iterator[BatchResult]:
        """Each batch's ``(records, metrics)``, yielded in batch order (so reruns write the
        same files), with a bounded number of batches in flight."""
        ...

    def companies(self, ids: Sequence[str], lineage: Lineage, pii: PiiPolicy) -> BatchResult:
        """The rows of the companies ``ids`` (extract/companies.py)."""
        ...

    def dimensions(
        self, output: str, pii: PiiPolicy, snapshots: Sequence[Snapshot]
    ) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
        """Replace the dimension snapshots ``snapshots`` in ``output`` (dimensions.py)."""
        ...

    def reduce(self, parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
        """The run's metrics, summed once."""
        ...


@dataclass(frozen=True)
class WindowResult:
    metrics: EnrichmentMetrics
    files: list[WrittenFile]
    incomplete: str | None  # why the window is not complete, or None
    purged: dict[str, PurgeResult] = field(default_factory=dict)  # by object table


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
    with Storage(job.output) as storage, collector_paused():  # memory.py: release_memory
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
    listings: list[Listing] = []
    try:
        parts: list[EnrichmentMetrics] = []
        for obj in job.objects:
            listing, listed = executor.list_window(obj, job.window)
            listings.append(listing)
            parts.append(listed)
        # Names of teammates, teams, tags, segments, ticket types and states: after listings
        # that succeeded (a run that fails there publishes nothing); contacts' tags are ids
        # the snapshot names.
        dims, dims_metrics = executor.dimensions(job.output, job.options.pii, job.snapshots)
        options = replace(job.options, tag_names=dims.tag_names)
        parts.append(dims_metrics)
        # What was deleted in Intercom since it was listed is never written (objects/deletions)
        listings = [lst.without(_deleted(lst.obj, dims)) for lst in listings]
        parts += [
            EnrichmentMetrics(counts={lst.obj.metrics.deleted: lst.deleted})
            for lst in listings
            if lst.deleted
        ]
        companies = _enrich(executor, listings, job.batch_size, lineage, options, writer, parts)
        read = sorted(companies) if job.companies else []
        unavailable = _companies(executor, read, lineage, options.pii, writer, parts)
        quarantined = [q for lst in listings for q in lst.quarantine]
        writer.append(BatchRecords(quarantine=job.options.pii.scrub_quarantine(quarantined)))
        total = executor.reduce(parts)
        reason = incomplete_reason(total)
        manifest = job.manifest(settings, total, started=started, flow_run_id=flow_run_id)
        unavailable |= {t for lst in listings if lst.unavailable for t in _tables(lst.obj)}
        files = writer.publish(manifest, complete=reason is None, keep=unavailable)
    except BaseException:
        writer.abort()
        raise
    finally:
        for listing in listings:
            listing.close()
    purged = {obj.table.name: _purge(storage, obj, dims) for obj in job.objects if obj.deleted}
    done = {k: v for k, v in purged.items() if v.windows or v.busy}
    return WindowResult(total, files, reason, done)


def _tables(obj: SearchedObject) -> tuple[str, ...]:
    return (obj.table.name, obj.parts.name)


def _deleted(obj: SearchedObject, dims: DimensionSnapshot) -> frozenset[str]:
    return dims.ids(obj.deleted) if obj.deleted else frozenset()


def _purge(storage: Storage, obj: SearchedObject, dims: DimensionSnapshot) -> PurgeResult:
    """Purge the object's deleted ids from the other windows' files, after this window's
    publication (its own files never held them). A purge that fails is retried by the next
    run; it never fails this window."""
    try:
        result = purge_deleted(storage, (obj.table, obj.parts), _deleted(obj, dims), [obj.kind])
    except (OSError, OutputError, ValueError) as exc:
        log.warning(
            "purge of deleted %s failed (%s); the next run retries it", obj.kind, type(exc).__name__
        )
        return PurgeResult()
    if result.windows or result.busy:
        log.info(
            "purged %d deleted %ss from %d windows (%s rows)%s",
            result.ids,
            obj.kind,
            len(result.windows),
            result.rows,
            f"; {len(result.busy)} windows busy, left for the next run" if result.busy else "",
        )
    return result


def _enrich(
    executor: WindowExecutor,
    listings: list[Listing],
    batch_size: int,
    lineage: Lineage,
    options: EnrichOptions,
    writer: WindowWriter,
    parts: list[EnrichmentMetrics],
) -> set[str]:
    """Plan the listings' batches together, enrich them and append their rows to the window's
    files.

    Planned together, the listed objects of every kind (conversations, tickets) share their
    contacts' lookups: a contact is looked up by one batch, whatever it is on. Planning needs
    only ids and contacts; each batch is read back from the listings' spill files when its
    turn comes (spill.py), so memory follows the batch size. Batches are bounded by the batch
    size too: a contact with more records is looked up by one batch and handed on to
    continuation batches, enriched after every owner batch (batching._bounded). Returns the
    companies the contacts reference.
    """
    companies: set[str] = set()
    contacts = Concatenated([listing.entries.contacts for listing in listings])
    plans = plan_positions(contacts, batch_size=batch_size)
    owners = [p for p in plans if not p.continuation]
    continuations = [p for p in plans if p.continuation]
    sources = [(listing.obj, listing.spill, listing.entries) for listing in listings]
    known = ContactLookup()  # what owner batches hand on to continuation batches

    def enrich(batches: SpilledBatches) -> None:
        for written, (records, metrics) in enumerate(executor.enrich(batches, lineage, options), 1):
            if records.carried is not None:
                known.update(records.carried)
            for contact in records.rows.get(CONTACTS.name, ()):
                companies.update(contact["company_ids"] or ())
            writer.append(records)
            records.release()  # written: whoever holds the task's result holds no rows
            parts.append(metrics)
            if written % BATCHES_IN_FLIGHT == 0:
                release_memory()  # the batches written so far: the collector's one pass
        release_memory()

    enrich(SpilledBatches(owners, sources))
    if continuations:
        enrich(SpilledBatches(continuations, sources, known))
    return companies


def _companies(
    executor: WindowExecutor,
    ids: list[str],
    lineage: Lineage,
    pii: PiiPolicy,
    writer: WindowWriter,
    parts: list[EnrichmentMetrics],
) -> set[str]:
    """Read the companies once each, in steps, each step's rows written as it answers (memory
    follows the step, not the window); the tables to keep if they are unavailable. Companies
    that become unavailable part-way (a 403) drop what this run staged of them, so the window's
    earlier company files stay whole, not a part of the new ones; their quarantined records are
    written only once every step has answered, for the same reason."""
    quarantine: list[dict[str, Any]] = []  # small: written once every step has answered
    for first in range(0, len(ids), COMPANIES_PER_STEP):
        records, metrics = executor.companies(ids[first : first + COMPANIES_PER_STEP], lineage, pii)
        parts.append(metrics)
        if metrics.unavailable:  # e.g. 403: no point asking for the rest
            writer.drop(COMPANIES.name)
            return {COMPANIES.name}
        writer.append(BatchRecords(rows=records.rows))
        quarantine += records.quarantine
        records.release()
        # The collector is paused while a window runs alone (memory.collector_paused): a
        # step's garbage (its thousands of responses) is collected here, or it piles up over
        # the steps (S4's 200,000 window: 363 → 467 MB over its six steps).
        release_memory()
    writer.append(BatchRecords(quarantine=quarantine))
    return set()


async def list_measured(
    client: IntercomClient,
    obj: SearchedObject,
    window: Window,
    *,
    per_page: int = SEARCH_PAGE_SIZE,
) -> tuple[Listing, EnrichmentMetrics]:
    """The listing step with ``client`` (opened and closed here), and what it cost. An optional
    object (``SearchedObject.optional``) whose search the token, workspace or API version
    does not offer (``errors.UNAVAILABLE``) is *unavailable*: an empty listing that says so,
    reported in the metrics, never a failure of the window."""
    async with client:
        try:
            listing = await list_window(client, obj, window, per_page=per_page)
        except UNAVAILABLE as exc:
            if not obj.optional:
                raise
            why = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
            log.warning(
                "%s unavailable (%s: not offered to this token, workspace or API version); "
                "the window's earlier %s files are kept",
                obj.table.name,
                why,
                obj.table.name,
            )
            listing = Listing.unavailable_for(obj, why)
    return listing, listing_metrics(listing, client)


async def snapshot_measured(
    client: IntercomClient, output: str, pii: PiiPolicy, snapshots: Sequence[Snapshot]
) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
    """The dimension step with ``client`` (opened and closed here), and what it cost."""
    with Storage(output) as storage:
        async with client:
            dims = await snapshot_dimensions(client, storage, pii, snapshots=snapshots)
    return dims, dims.metrics(client)


async def companies_measured(
    client: IntercomClient, ids: Sequence[str], lineage: Lineage, pii: PiiPolicy
) -> BatchResult:
    """The companies step with ``client`` (opened and closed here)."""
    async with client:
        return await fetch_companies(client, ids, lineage=lineage, pii=pii)


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

    def list_window(self, obj: SearchedObject, window: Window) -> tuple[Listing, EnrichmentMetrics]:
        return self._runner.run(list_measured(self._client(), obj, window, per_page=self.per_page))

    def enrich(
        self, batches: Sequence[Batch[Any]], lineage: Lineage, options: EnrichOptions
    ) -> Iterator[BatchResult]:
        async def one(batch: Batch[Any]) -> BatchResult:
            async with self._client() as client:
                return await enrich_batch(client, batch, lineage=lineage, options=options)

        async def group(chunk: Sequence[Batch[Any]]) -> list[BatchResult]:
            return await gather_all(*(one(b) for b in chunk))

        step = self.batches_in_flight
        for first in range(0, len(batches), step):
            yield from self._runner.run(group(batches[first : first + step]))

    def companies(self, ids: Sequence[str], lineage: Lineage, pii: PiiPolicy) -> BatchResult:
        return self._runner.run(companies_measured(self._client(), ids, lineage, pii))

    def dimensions(
        self, output: str, pii: PiiPolicy, snapshots: Sequence[Snapshot]
    ) -> tuple[DimensionSnapshot, EnrichmentMetrics]:
        return self._runner.run(snapshot_measured(self._client(), output, pii, snapshots))

    def reduce(self, parts: list[EnrichmentMetrics]) -> EnrichmentMetrics:
        return EnrichmentMetrics.total(parts)


def run_window(
    settings: IntercomSettings, job: WindowJob, *, batches_in_flight: int = BATCHES_IN_FLIGHT
) -> WindowResult:
    """``run_pipeline`` without Prefect, in one event loop of this thread."""
    with AsyncioExecutor(settings, batches_in_flight=batches_in_flight) as executor:
        return run_pipeline(settings, job, executor)
