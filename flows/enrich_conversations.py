"""Flow ``enrich-conversations``: one window of Intercom conversations → enriched Parquet.

The window's work is ``intercom_enrichment.extract.pipeline.run_pipeline`` — list → plan batches →
``enrich-batch`` mapped over batches (a bounded number in flight, written in batch order) →
reduce the metrics once → publish files and manifest — driven here by ``TaskExecutor``, whose
steps are Prefect tasks. Then artifacts. A run whose lookups still failed after the retries has
its rows written with ``enrichment_status=failed`` and then ends Failed, so nothing is lost
silently; rerunning the window repairs it.
"""

# No `from __future__ import annotations`: it breaks parameter schemas (PrefectHQ/prefect#19447).
import os
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.runtime import deployment as runtime_deployment
from prefect.runtime import flow_run as runtime_flow_run
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import Field

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.errors import ConfigError, IntercomEnrichmentError
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import BATCHES_IN_FLIGHT, WindowJob, run_pipeline
from intercom_enrichment.memory import limit_malloc_arenas, settle_startup_heap
from intercom_enrichment.objects.registry import SEARCHED
from intercom_enrichment.options import (
    RUN_DEFAULTS,
    BatchSize,
    GlobalLimit,
    IncludeCompanies,
    IncludeParts,
    IncludeSegments,
    IncludeTickets,
    Interval,
    LagMinutes,
    Output,
    Pii,
    PiiKeySecretBlock,
    RunOptions,
    TokenSecretBlock,
)
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.signals import cancels_requests_when_interrupted
from intercom_enrichment.windows import Window, parse_every, resolve_window
from intercom_enrichment_flows.parameters import describe_parameters
from intercom_enrichment_tasks.enrichment import TaskExecutor
from intercom_enrichment_tasks.marts import refresh_marts
from intercom_enrichment_tasks.publish import publish_artifacts


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


def window_job(window: Window, options: RunOptions) -> WindowJob:
    """The plain pipeline's job for ``window`` under ``options`` (secrets resolved here)."""
    enrich = EnrichOptions(
        include_parts=options.include_parts,
        include_segments=options.include_segments,
        pii=PiiPolicy.from_env(options.pii, key=_secret(options.pii_key_secret_block)),
    )
    objects = tuple(o for o in SEARCHED if o.enabled(options.model_dump()))
    return WindowJob(
        window, options.output, options.batch_size, enrich, objects, options.include_companies
    )


def prefect_api_configured() -> bool:
    """A Prefect server is set, by the environment or the active profile."""
    return bool(os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value())


def check_task_runner(task_runner: str) -> None:
    """The one check of a task-runner choice (the CLI's pre-flight and the flows use it)."""
    if task_runner not in ("threads", "dask"):
        raise ConfigError(f"task runner must be threads or dask, not {task_runner!r}")
    if task_runner == "dask" and not prefect_api_configured():
        raise ConfigError("the Dask task runner needs a Prefect server: set PREFECT_API_URL")


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
@describe_parameters
@cancels_requests_when_interrupted
def enrich_conversations(
    start: Annotated[
        datetime | None,
        Field(description="Window start (inclusive, UTC). Empty: derived from the schedule."),
    ] = None,
    end: Annotated[
        datetime | None,
        Field(description="Window end (exclusive, UTC). Empty: the scheduled start time."),
    ] = None,
    interval: Interval = "1h",
    lag_minutes: LagMinutes = 0,
    refresh: Annotated[
        bool, Field(description="Refresh current/ and marts/ once the window is published.")
    ] = True,
    # The run options: intercom_enrichment/options.py (tests/test_parameters.py checks drift).
    output: Output = RUN_DEFAULTS.output,
    batch_size: BatchSize = RUN_DEFAULTS.batch_size,
    include_parts: IncludeParts = RUN_DEFAULTS.include_parts,
    include_tickets: IncludeTickets = RUN_DEFAULTS.include_tickets,
    include_companies: IncludeCompanies = RUN_DEFAULTS.include_companies,
    include_segments: IncludeSegments = RUN_DEFAULTS.include_segments,
    pii: Pii = RUN_DEFAULTS.pii,
    token_secret_block: TokenSecretBlock = RUN_DEFAULTS.token_secret_block,
    pii_key_secret_block: PiiKeySecretBlock = RUN_DEFAULTS.pii_key_secret_block,
    global_limit: GlobalLimit = RUN_DEFAULTS.global_limit,
) -> dict[str, Any]:
    """One window: list, enrich with contacts, write Parquet and the manifest."""
    options = RunOptions.pick(locals())
    limit_malloc_arenas()  # before the batch tasks' threads start (memory.py)
    settle_startup_heap()  # imports are done: the collector stops walking them (memory.py)
    started = datetime.now(UTC)
    window = resolve_window(
        start,
        end,
        every=parse_every(interval),
        lag=timedelta(minutes=lag_minutes),
        scheduled=runtime_flow_run.scheduled_start_time or started,
        now=started,
    )
    settings = load_settings(options.token_secret_block)
    job = window_job(window, options)
    get_run_logger().info("window %s → %s", window.key, options.output)
    result = run_pipeline(
        settings,
        job,
        TaskExecutor(settings, options.global_limit),
        flow_run_id=str(runtime_flow_run.id) if runtime_flow_run.id else None,
        started=started,
    )
    publish_artifacts(
        window,
        result.metrics,
        result.files,
        Storage(options.output),
        result.incomplete,
        runtime_deployment.name,
        [o.table.name for o in job.objects],
    )
    if refresh:  # after publication: a failed refresh fails the run, never the window's files
        refresh_marts(options.output, runtime_deployment.name)
    if result.incomplete:
        raise EnrichmentIncomplete(result.incomplete)
    return {
        "window": window.key,
        "objects": [o.table.name for o in job.objects],
        "files": [f.path for f in result.files],
        "purged": {k: v.rows for k, v in result.purged.items()},
        **result.metrics.to_dict(),
    }


def with_task_runner(task_runner: str = "threads", dask_address: str | None = None) -> Any:
    """``enrich_conversations`` with its batch tasks on threads (default) or on Dask.

    Dask: a local cluster of two worker processes, or the scheduler at ``dask_address``. Its
    workers report task runs to the Prefect API, so a real ``PREFECT_API_URL`` is required.
    """
    check_task_runner(task_runner)
    if task_runner == "threads":
        return enrich_conversations
    from prefect_dask import DaskTaskRunner

    runner = (
        DaskTaskRunner(address=dask_address)
        if dask_address
        else DaskTaskRunner(
            cluster_kwargs={"n_workers": 2, "threads_per_worker": 2, "processes": True}
        )
    )
    return enrich_conversations.with_options(task_runner=runner)
