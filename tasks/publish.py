"""What a flow run shows in the UI: a metrics table with a stable key, a summary, file links."""

import re
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import WrittenFile
from intercom_enrichment.windows import Window


def artifact_key(prefix: str, name: str | None) -> str:
    """Keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "adhoc").lower()).strip("-") or "adhoc"
    return f"{prefix}-{slug}"[:100]


def summary_markdown(
    window: Window,
    metrics: EnrichmentMetrics,
    files: list[WrittenFile],
    storage: Storage,
    problem: str | None,
) -> str:
    lines = [
        f"# Intercom enrichment {window.label}",
        "",
        f"Window `[{window.start.isoformat()}, {window.end.isoformat()})` → `{storage.url}`",
        "",
        "| enrichment status | conversations |",
        "|---|---:|",
        *(f"| {status} | {count} |" for status, count in metrics.status_counts.items()),
        "",
        f"- conversations listed {metrics.conversations_listed}, written "
        f"{metrics.conversations_written}, quarantined {metrics.conversations_quarantined}",
        f"- contacts: {metrics.contacts_unique} distinct, {metrics.contacts_fetched} fetched, "
        f"{metrics.contacts_not_found} not found, {metrics.contact_lookups_failed} failed",
        f"- parts written {metrics.parts_written}; conversations with incomplete parts "
        f"{metrics.parts_incomplete}",
        f"- API requests {metrics.api_requests} ({_endpoints(metrics)}), retries "
        f"{metrics.api_retries}, answered 429 {metrics.api_rate_limited}, "
        f"{metrics.rate_limit_wait_seconds:.1f} request-seconds waiting for the rate limit",
    ]
    if metrics.failure_reasons or problem:
        lines += ["", "## Failures", ""]
        lines += [f"- {reason}: {count}" for reason, count in metrics.failure_reasons.items()]
        lines += [f"- run incomplete: {problem}"] if problem else []
    lines += ["", "## Files", ""]
    lines += [f"- [{f.path}]({storage.uri(f.path)}): {f.rows} rows" for f in files]
    return "\n".join(lines) + "\n"


def _endpoints(metrics: EnrichmentMetrics) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(metrics.requests_by_endpoint.items())) or "-"


@task(name="publish-artifacts", cache_policy=NO_CACHE, persist_result=False)
def publish_artifacts(
    window: Window,
    metrics: EnrichmentMetrics,
    files: list[WrittenFile],
    storage: Storage,
    problem: str | None,
    deployment_name: str | None,
) -> dict[str, Any]:
    rows = [
        {"metric": name, "value": value}
        for name, value in metrics.to_dict().items()
        if not isinstance(value, dict)
    ]
    table_key = artifact_key("enrichment-metrics", deployment_name)
    summary_key = artifact_key("enrichment-summary", deployment_name)
    create_table_artifact(rows, key=table_key, description=f"metrics of {window.label}")
    create_markdown_artifact(
        summary_markdown(window, metrics, files, storage, problem),
        key=summary_key,
        description=f"summary of {window.label}",
    )
    return {"table": table_key, "summary": summary_key}
