"""What a flow run shows in the UI: a metrics table with a stable key, a summary, file links."""

import re
from collections.abc import Sequence
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.declaration import Status
from intercom_enrichment.objects.registry import SEARCHED
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
    read: Sequence[str] = ("conversations",),
) -> str:
    """The run's summary; ``read``: the searched objects' tables the run read (each gets a
    column even when it listed none)."""
    objects = [o for o in SEARCHED if metrics.count(o.metrics.listed) or o.table.name in read]
    lines = [
        f"# Intercom enrichment {window.label}",
        "",
        f"Window `[{window.start.isoformat()}, {window.end.isoformat()})` → `{storage.url}`",
        "",
        "| enrichment status | " + " | ".join(o.table.name for o in objects) + " |",
        "|---|" + "---:|" * len(objects),
        *(
            f"| {status.value} | "
            + " | ".join(str(metrics.count(o.metrics.of_status(status))) for o in objects)
            + " |"
            for status in Status
        ),
        "",
    ]
    for obj in objects:
        names = obj.metrics
        lines += [
            f"- {obj.table.name} listed {metrics.count(names.listed)}, written "
            f"{metrics.count(names.written)}, quarantined {metrics.count(names.quarantined)}; "
            f"{obj.parts.name} written {metrics.count(names.parts_written)}, "
            f"{obj.table.name} with incomplete parts {metrics.count(names.parts_incomplete)}",
        ]
    lines += [
        f"- contacts: {metrics.contacts_unique} distinct, {metrics.contacts_fetched} fetched, "
        f"{metrics.contacts_not_found} not found, {metrics.contact_lookups_failed} failed",
        f"- API requests {metrics.api_requests} ({_endpoints(metrics)}), retries "
        f"{metrics.api_retries}, answered 429 {metrics.api_rate_limited}, "
        f"{metrics.rate_limit_wait_seconds:.1f} request-seconds waiting for the rate limit",
    ]
    lines += [f"- unavailable: {what}" for what in metrics.unavailable]
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
    read: Sequence[str] = ("conversations",),
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
        summary_markdown(window, metrics, files, storage, problem, read),
        key=summary_key,
        description=f"summary of {window.label}",
    )
    return {"table": table_key, "summary": summary_key}
