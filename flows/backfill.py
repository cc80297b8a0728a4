"""Flow ``backfill-conversations``: walk a long range window by window, resumable.

Each window is its own ``enrich-conversations`` flow run (so each has its own artifacts and
manifest): a subflow in this process, or — with ``fan_out_deployment`` — a run of that
deployment, picked up by any worker of its pool on any machine. At most
``max_concurrent_windows`` run at once either way. A window whose manifest says
``completed`` is skipped unless ``force``: a killed backfill resumes where it stopped, without
duplicates (a window's files are replaced, never appended to) or holes (a window only counts
as done once its manifest, written last, says so).
"""

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.deployments import run_deployment
from prefect.runtime import deployment as runtime_deployment
from pydantic import Field

from intercom_enrichment.errors import IntercomEnrichmentError
from intercom_enrichment.memory import release_memory
from intercom_enrichment.options import (
    RUN_DEFAULTS,
    BatchSize,
    DaskAddress,
    GlobalLimit,
    IncludeCompanies,
    IncludeParts,
    IncludeSegments,
    IncludeTickets,
    IntervalName,
    Output,
    Pii,
    PiiKeySecretBlock,
    RunOptions,
    TaskRunner,
    TokenSecretBlock,
)
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import window_completed
from intercom_enrichment.signals import cancels_requests_when_interrupted, stop_requested
from intercom_enrichment.windows import Window, as_utc, check_not_future, make_windows, parse_every
from intercom_enrichment_flows.enrich_conversations import with_task_runner
from intercom_enrichment_flows.parameters import describe_parameters
from intercom_enrichment_tasks.marts import refresh_marts
from intercom_enrichment_tasks.publish import artifact_key

# In-process observers (the CLI's progress bar): called with (window, "skipped"|"done"|"failed").
ProgressListener = Callable[[Window, str], None]
progress_listeners: list[ProgressListener] = []


class BackfillIncomplete(IntercomEnrichmentError):
    """Some windows failed; rerun the backfill to retry just those."""


def plan_backfill(
    start: datetime, end: datetime, every: str, storage: Storage, *, force: bool, now: datetime
) -> tuple[list[Window], list[Window]]:
    """(windows to run, windows already complete)."""
    check_not_future(as_utc(end), now, what="backfill end")
    windows = make_windows(start, end, parse_every(every))
    done = [] if force else [w for w in windows if window_completed(storage, w)]
    return [w for w in windows if w not in done], done


def _notify(window: Window, outcome: str) -> None:
    for listener in progress_listeners:
        listener(window, outcome)


@flow(
    name="backfill-conversations",
    flow_run_name="backfill {start:%Y-%m-%dT%H}→{end:%Y-%m-%dT%H} every {every}",
    log_prints=False,
)
@describe_parameters
@cancels_requests_when_interrupted
def backfill_conversations(
    start: Annotated[datetime, Field(description="First window's start (UTC).")],
    end: Annotated[datetime, Field(description="Last window's end, exclusive (UTC).")],
    every: Annotated[IntervalName, Field(description="Window length.")] = "1d",
    max_concurrent_windows: Annotated[
        int, Field(ge=1, le=16, description="Windows processed at once.")
    ] = 2,
    force: Annotated[bool, Field(description="Redo windows already complete.")] = False,
    task_runner: TaskRunner = "threads",
    dask_address: DaskAddress = None,
    fan_out_deployment: Annotated[
        str | None,
        Field(
            description="Run each window as a flow run of this deployment (e.g. "
            "'enrich-conversations/window'), spread over every worker of its pool."
        ),
    ] = None,
    # The run options, passed through to every window: intercom_enrichment/options.py.
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
    """Walk a long range window by window; completed windows are skipped."""
    options = RunOptions.pick(locals())
    logger = get_run_logger()
    storage = Storage(options.output)
    storage.check_writable()
    todo, done = plan_backfill(start, end, every, storage, force=force, now=datetime.now(UTC))
    total = len(todo) + len(done)
    for window in done:
        _notify(window, "skipped")
    logger.info(
        "%d windows of %s, %d already complete, %d to run, %d at once",
        total,
        every,
        len(done),
        len(todo),
        max_concurrent_windows,
    )
    progress_id = create_progress_artifact(
        progress=100.0 * len(done) / max(total, 1),
        key=artifact_key("backfill-progress", runtime_deployment.name),
        description=f"windows complete of {total}",
    )
    window_flow = with_task_runner(task_runner, dask_address)
    failed: list[str] = []
    finished = len(done)
    lock = threading.Lock()

    def run(window: Window) -> tuple[Window, bool]:
        if stop_requested():  # SIGTERM/SIGINT (signals.py): start no new window
            return window, False
        params = {"start": window.start, "end": window.end, **options.model_dump()}
        params["refresh"] = False  # the backfill refreshes current/ and marts/ once, at its end
        if fan_out_deployment:  # a flow run on whichever worker of the pool is free
            run = run_deployment(fan_out_deployment, parameters=params, timeout=None)
            return window, bool(run.state and run.state.is_completed())
        state = window_flow(**params, return_state=True)
        release_memory()  # keep the resident size flat over long backfills
        return window, state.is_completed()

    with ThreadPoolExecutor(max_workers=max_concurrent_windows) as pool:
        futures = [pool.submit(contextvars.copy_context().run, run, w) for w in todo]
        for future in as_completed(futures):
            window, ok = future.result()
            with lock:
                finished += 1
                if not ok:
                    failed.append(window.key)
            update_progress_artifact(progress_id, progress=100.0 * finished / max(total, 1))
            _notify(window, "done" if ok else "failed")
    refresh_marts(options.output, runtime_deployment.name)  # once, over every window published
    summary = {
        "windows": total,
        "skipped": len(done),
        "ran": len(todo),
        "failed": sorted(failed),
    }
    if failed:
        raise BackfillIncomplete(
            f"{len(failed)} of {len(todo)} windows failed ({', '.join(sorted(failed)[:5])}"
            f"{', …' if len(failed) > 5 else ''}); rerun the backfill to retry them"
        )
    return summary
