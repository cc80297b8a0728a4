"""One window end to end, as plain asyncio — and the pieces the Prefect flow shares with it.

The flow (``flows/enrich_conversations.py``) runs the same steps with Prefect tasks; this
module's ``run_window`` runs them in one event loop with no orchestration. It serves the
benchmark (to measure what Prefect costs) and any caller that wants no Prefect at all.
"""

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .batching import ConversationBatch, plan_batches
from .client import IntercomClient
from .dimensions import snapshot_dimensions
from .enrich import EnrichOptions, enrich_batch, listing_metrics
from .listing import list_window
from .metrics import EnrichmentMetrics
from .rows import Lineage
from .schema import SCHEMA_VERSION
from .settings import IntercomSettings
from .storage import Storage
from .windows import Window
from .writer import BatchRecords, WindowWriter, WrittenFile


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
                "base_url": settings.base_url,
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


async def run_window(
    settings: IntercomSettings, job: WindowJob, *, batches_in_flight: int = 4
) -> tuple[EnrichmentMetrics, list[WrittenFile]]:
    """List, enrich and write one window in this event loop, without Prefect."""
    started = datetime.now(UTC)
    storage = Storage(job.output)
    storage.check_writable()
    lineage = Lineage(job.window, started)
    async with IntercomClient(settings) as client:
        listing = await list_window(client, job.window)
        parts = [listing_metrics(listing, client)]
        async with IntercomClient(settings, budget=client.budget) as dim_client:
            dims = await snapshot_dimensions(dim_client, storage, job.options.pii)
        parts.append(dims.metrics(dim_client))
        job = replace(job, options=replace(job.options, tag_names=dims.tag_names))
        batches = plan_batches(listing.conversations, batch_size=job.batch_size)
        writer = WindowWriter(storage, job.window, job.tables)
        try:
            for first in range(0, len(batches), batches_in_flight):
                results = await asyncio.gather(
                    *(
                        _enrich(settings, client, batch, lineage, job.options)
                        for batch in batches[first : first + batches_in_flight]
                    )
                )
                for records, metrics in results:
                    writer.append(records)
                    parts.append(metrics)
            quarantine = job.options.pii.scrub_quarantine(listing.quarantine)
            writer.append(BatchRecords(quarantine=quarantine))
            metrics = EnrichmentMetrics.total(parts)
            manifest = job.manifest(settings, metrics, started=started, flow_run_id=None)
            files = writer.publish(manifest, complete=incomplete_reason(metrics) is None)
        except BaseException:
            writer.abort()
            raise
    return metrics, files


async def _enrich(
    settings: IntercomSettings,
    shared: IntercomClient,
    batch: ConversationBatch,
    lineage: Lineage,
    options: EnrichOptions,
) -> tuple[BatchRecords, EnrichmentMetrics]:
    async with IntercomClient(settings, budget=shared.budget) as client:  # own request counts
        return await enrich_batch(client, batch, lineage=lineage, options=options)
