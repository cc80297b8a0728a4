"""Flow ``enrich-conversations``: one window of Intercom conversations → enriched Parquet.

list → plan batches → ``enrich_batch.map`` (a bounded number in flight, written as they arrive,
in batch order) → reduce the metrics once → publish files and manifest → artifacts. A run whose
lookups still failed after the retries writes its rows with ``enrichment_status=failed`` and
then ends Failed, so nothing is lost silently; rerunning the window repairs it.
"""

# No `from __future__ import annotations`: it breaks parameter schemas (PrefectHQ/prefect#19447).
import dataclasses
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, unmapped
from prefect.runtime import deployment as runtime_deployment
from prefect.runtime import flow_run as runtime_flow_run
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from intercom_enrichment.batching import plan_batches
from intercom_enrichment.enrich import EnrichOptions
from intercom_enrichment.errors import ConfigError, IntercomEnrichmentError
from intercom_enrichment.pii import PiiPolicy
from intercom_enrichment.pipeline import WindowJob, incomplete_reason
from intercom_enrichment.rows import Lineage
from intercom_enrichment.settings import IntercomSettings
from intercom_enrichment.storage import Storage
from intercom_enrichment.windows import Window, parse_every, resolve_window
from intercom_enrichment.writer import BatchRecords, WindowWriter
from tasks.dimensions import snapshot_dimensions_task
from tasks.enrichment import enrich_conversation_batch, list_conversations, reduce_metrics
from tasks.publish import publish_artifacts

BATCHES_IN_FLIGHT = 4


class EnrichmentIncomplete(IntercomEnrichmentError):
    """The window was written, but some conversations could not be enriched."""


def _secret(block_name: str | None) -> str | None:
    if not block_name:
        return None
    from prefect.blocks.system import Secret

    return str(Secret.load(block_name).get())


def load_settings(token_secret_block: str | None) -> IntercomSettings:
    """Token from a Prefect Secret block when one is named, else from the environment."""
    return IntercomSettings.from_env(token=_secret(token_secret_block))


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
    pii: Annotated[
        Literal["keep", "hash", "drop"],
        Field(description="Contact email/name/phone, part bodies/author emails: keep, HMAC, drop."),
    ] = "keep",
    pii_key_secret_block: Annotated[
        str | None,
        Field(description="Secret block with the HMAC key for pii=hash (else the env)."),
    ] = None,
    global_limit: Annotated[
        str | None,
        Field(description="Prefect global concurrency limit shared by every run of this app."),
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
    options = EnrichOptions(
        include_parts=include_parts,
        include_segments=include_segments,
        pii=PiiPolicy.from_env(pii, key=_secret(pii_key_secret_block)),
    )
    job = WindowJob(window, output, batch_size, options)
    lineage = Lineage(window, started)

    listing, listed = list_conversations.submit(settings, window, global_limit).result()
    batches = plan_batches(listing.conversations, batch_size=batch_size)
    logger.info("%d conversations in %d batches", len(listing.conversations), len(batches))
    quarantined = options.pii.scrub_quarantine(listing.quarantine)
    del listing  # the batches hold the conversations now
    dims, dim_metrics = snapshot_dimensions_task.submit(
        settings, output, options.pii, global_limit
    ).result()  # after a listing that succeeded: a failed run publishes nothing
    options = dataclasses.replace(options, tag_names=dims.tag_names)
    parts = [listed, dim_metrics]
    writer = WindowWriter(storage, window, job.tables)
    try:
        for first in range(0, len(batches), BATCHES_IN_FLIGHT):
            group = batches[first : first + BATCHES_IN_FLIGHT]
            futures = enrich_conversation_batch.map(
                unmapped(settings),
                group,
                unmapped(lineage),
                unmapped(options),
                unmapped(global_limit),
            )
            for future in futures:  # in batch order, so reruns write the same files
                records, metrics = future.result()
                writer.append(records)
                parts.append(metrics)
            del futures, group
        writer.append(BatchRecords(quarantine=quarantined))
        metrics = reduce_metrics(parts)
        reason = incomplete_reason(metrics)
        manifest = job.manifest(
            settings,
            metrics,
            started=started,
            flow_run_id=str(runtime_flow_run.id) if runtime_flow_run.id else None,
        )
        files = writer.publish(manifest, complete=reason is None)
    except BaseException:
        writer.abort()
        raise
    publish_artifacts(window, metrics, files, storage, reason, runtime_deployment.name)
    if reason:
        raise EnrichmentIncomplete(reason)
    return {"window": window.key, "files": [f.path for f in files], **metrics.to_dict()}


def with_task_runner(task_runner: str = "threads", dask_address: str | None = None) -> Any:
    """``enrich_conversations`` with its batch tasks on threads (default) or on Dask.

    Dask: a local cluster of two worker processes, or the scheduler at ``dask_address``. Its
    workers report task runs to the Prefect API, so a real ``PREFECT_API_URL`` is required.
    """
    if task_runner == "threads":
        return enrich_conversations
    if task_runner != "dask":
        raise ConfigError(f"task runner must be threads or dask, not {task_runner!r}")
    if not os.environ.get("PREFECT_API_URL") and not PREFECT_API_URL.value():
        raise ConfigError("the Dask task runner needs a Prefect server: set PREFECT_API_URL")
    from prefect_dask import DaskTaskRunner

    runner = (
        DaskTaskRunner(address=dask_address)
        if dask_address
        else DaskTaskRunner(
            cluster_kwargs={"n_workers": 2, "threads_per_worker": 2, "processes": True}
        )
    )
    return enrich_conversations.with_options(task_runner=runner)
