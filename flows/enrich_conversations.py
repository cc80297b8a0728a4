"""Flow ``enrich-conversations``: one window of Intercom conversations → enriched Parquet.

list → plan batches → ``enrich_batch.map`` (a bounded number in flight, written as they arrive,
in batch order) → reduce the metrics once → publish files and manifest → artifacts. A run whose
lookups still failed after the retries writes its rows with ``enrichment_status=failed`` and
then ends Failed, so nothing is lost silently; rerunning the window repairs it.
"""

# No `from __future__ import annotations`: it breaks parameter schemas (PrefectHQ/prefect#19447).
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, unmapped
from prefect.runtime import deployment as runtime_deployment
from prefect.runtime import flow_run as runtime_flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from intercom_enrichment.batching import plan_batches
from intercom_enrichment.enrich import EnrichOptions
from intercom_enrichment.errors import IntercomEnrichmentError
from intercom_enrichment.rows import Lineage
from intercom_enrichment.schema import SCHEMA_VERSION
from intercom_enrichment.settings import IntercomSettings
from intercom_enrichment.storage import Storage
from intercom_enrichment.windows import Window, parse_every, resolve_window
from intercom_enrichment.writer import BatchRecords, WindowWriter
from tasks.enrichment import enrich_conversation_batch, list_conversations, reduce_metrics
from tasks.publish import publish_artifacts

BATCHES_IN_FLIGHT = 4


class EnrichmentIncomplete(IntercomEnrichmentError):
    """The window was written, but some conversations could not be enriched."""


def load_settings(token_secret_block: str | None) -> IntercomSettings:
    """Token from a Prefect Secret block when one is named, else from the environment."""
    token = None
    if token_secret_block:
        from prefect.blocks.system import Secret

        token = str(Secret.load(token_secret_block).get())
    return IntercomSettings.from_env(token=token)


def _run_name() -> str:
    params = runtime_flow_run.parameters
    start, end = params.get("start"), params.get("end")
    if start is None or end is None:
        return f"enrich scheduled {runtime_flow_run.scheduled_start_time:%Y-%m-%dT%H:%M}"
    return f"enrich {Window(_aware(start), _aware(end)).label}"


def _aware(value: Any) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@flow(
    name="enrich-conversations",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=BATCHES_IN_FLIGHT + 1),
    log_prints=False,
)
def enrich_conversations(
    start: Annotated[
        datetime | None,
        Field(description="Window start (inclusive, UTC). Empty: derived from the schedule."),
    ] = None,
    end: Annotated[
        datetime | None,
        Field(description="Window end (exclusive, UTC). Empty: the scheduled start time."),
    ] = None,
    output: Annotated[
        str, Field(description="Output folder or fsspec URL (s3://bucket/prefix).")
    ] = "out/intercom",
    batch_size: Annotated[
        int, Field(ge=10, le=20_000, description="Conversations per enrichment task (about).")
    ] = 2000,
    include_parts: Annotated[
        bool, Field(description="Fetch every conversation's parts (one call each).")
    ] = False,
    include_segments: Annotated[
        bool, Field(description="Fetch each contact's segments (one call per contact).")
    ] = False,
    interval: Annotated[
        Literal["1h", "1d"], Field(description="Window length when derived from the schedule.")
    ] = "1h",
    lag_minutes: Annotated[
        int, Field(ge=0, le=1440, description="Scheduled windows end this long before the slot.")
    ] = 0,
    token_secret_block: Annotated[
        str | None,
        Field(description="Name of a Prefect Secret block holding the token (else the env)."),
    ] = None,
) -> dict[str, Any]:
    logger = get_run_logger()
    started = datetime.now(UTC)
    window = resolve_window(
        start,
        end,
        every=parse_every(interval),
        lag=timedelta(minutes=lag_minutes),
        scheduled=runtime_flow_run.scheduled_start_time or started,
        now=started,
    )
    settings = load_settings(token_secret_block)
    storage = Storage(output)
    storage.check_writable()
    tables = ["conversations", "contacts"] + (["conversation_parts"] if include_parts else [])
    lineage = Lineage(window, started)
    options = EnrichOptions(include_parts=include_parts, include_segments=include_segments)

    listing, listed = list_conversations.submit(settings, window).result()
    batches = plan_batches(listing.conversations, batch_size=batch_size)
    logger.info("%d conversations in %d batches", len(listing.conversations), len(batches))
    quarantined = listing.quarantine
    del listing  # the batches hold the conversations now
    parts = [listed]
    writer = WindowWriter(storage, window, tables)
    try:
        for first in range(0, len(batches), BATCHES_IN_FLIGHT):
            group = batches[first : first + BATCHES_IN_FLIGHT]
            futures = enrich_conversation_batch.map(
                unmapped(settings), group, unmapped(lineage), unmapped(options)
            )
            for future in futures:  # in batch order, so reruns write the same files
                records, metrics = future.result()
                writer.append(records)
                parts.append(metrics)
            del futures, group
        writer.append(BatchRecords(quarantine=quarantined))
        metrics = reduce_metrics(parts)
        problems = metrics.invariant_violations()
        incomplete = metrics.status_failed + metrics.parts_fetch_failed
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
            "parameters": {
                "output": output,
                "batch_size": batch_size,
                "include_parts": include_parts,
                "include_segments": include_segments,
                "api_version": settings.api_version,
                "base_url": settings.base_url,
            },
            "flow_run_id": str(runtime_flow_run.id) if runtime_flow_run.id else None,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "metrics": metrics.to_dict(),
        }
        files = writer.publish(manifest, complete=not (incomplete or problems))
    except BaseException:
        writer.abort()
        raise
    publish_artifacts(window, metrics, files, storage, problems, runtime_deployment.name)
    result = {"window": window.key, "files": [f.path for f in files], **metrics.to_dict()}
    if problems:
        raise EnrichmentIncomplete("metrics invariants violated: " + "; ".join(problems))
    if incomplete:
        raise EnrichmentIncomplete(
            f"{metrics.status_failed} conversations could not be enriched and "
            f"{metrics.parts_fetch_failed} could not get their parts after retries "
            f"({dict(metrics.failure_reasons)}); rows are written with enrichment_status=failed; "
            "rerun the window to repair it"
        )
    return result
