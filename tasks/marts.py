"""The final task of a window run (and of a backfill): refresh ``current/`` and ``marts/``.

A failure here fails the run loudly; the window's files and manifest are already published
and stay as they are (the next refresh folds them in).
"""

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from intercom_enrichment.marts import refresh, support_daily_markdown
from intercom_enrichment.memory import release_memory
from intercom_enrichment_tasks.publish import artifact_key

REPORT_DAYS = 14
# A run's refresh shares the worker with what the window left resident, so it gets a smaller
# budget than `intercom-enrich refresh` (512MB, 2 threads): a DuckDB thread holds scan and join
# state outside ``memory_limit``. Refreshing one 200,000-conversation window alone peaked at
# 497 MB with the defaults and 371 MB with these (1.5 s and 1.3 s); inside the window's flow run
# the run's peak went from 837 to 692 MB (docs/performance.md).
RUN_MEMORY_LIMIT = "256MB"
RUN_THREADS = 1
# …and computes current conversations in chunks of 25,000 rows (marts/runner.py): in a
# 200,000-conversation window's run (benchmarks/memory_phases.py, 2026-12-06) the refresh's
# partitioned query peaked at 479 MB instead of 493 with 50,000-row chunks, for 1.9 s more;
# a window of 20,000 is one chunk either way.
RUN_CHUNK_ROWS = 25_000


@task(name="refresh-marts", persist_result=False, cache_policy=NO_CACHE)
def refresh_marts(output: str, deployment_name: str | None) -> dict[str, Any]:
    """Fold the newly published windows in, then show the last 14 days of support_daily as
    the artifact ``support-daily-<deployment>``."""
    release_memory()  # what the window freed, before DuckDB and Arrow allocate again
    result = refresh(
        output, memory_limit=RUN_MEMORY_LIMIT, threads=RUN_THREADS, chunk_rows=RUN_CHUNK_ROWS
    )
    get_run_logger().info(
        "refreshed current/ and marts/: %d windows folded, months %s, %.1f s",
        result.windows_folded,
        ", ".join(result.months) or "none",
        result.seconds,
    )
    key = artifact_key("support-daily", deployment_name)
    create_markdown_artifact(
        support_daily_markdown(output, REPORT_DAYS),
        key=key,
        description=f"support_daily, last {REPORT_DAYS} days",
    )
    return {"artifact": key, "windows_folded": result.windows_folded, "months": result.months}
