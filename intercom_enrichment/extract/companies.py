"""The companies a window's contacts reference, each read once by id (``objects/companies.py``
says why by id): ``GET /companies/{id}``; 404 → gone (counted, no row); a record that does not
validate → quarantined; 403 and the like (``errors.UNAVAILABLE``) → companies unavailable for
the run (reported; the window's earlier company files are kept); a transient failure after the
retries → counted, and the window is incomplete (a rerun repairs it).
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.contact_search import RUN_FATAL
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import UNAVAILABLE, IntercomError, NotFound
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.common import Lineage
from intercom_enrichment.objects.companies import COMPANIES, GET_COMPANY, KIND, Company, company_row
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.quality.quarantine import quarantine_record

COMPANIES_PER_STEP = 500  # ids fetched by one step (a task of the flow)


@dataclass
class _Found:
    rows: list[dict[str, Any]] = field(default_factory=list)
    not_found: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    unavailable: str | None = None


async def fetch_companies(
    client: IntercomClient, ids: Sequence[str], *, lineage: Lineage, pii: PiiPolicy
) -> tuple[BatchRecords, EnrichmentMetrics]:
    """The rows of the companies ``ids`` (distinct), and what fetching them counted."""
    found = _Found()
    rows: dict[str, dict[str, Any]] = {}

    async def one(company_id: str) -> None:
        try:
            raw = await client.get_object(GET_COMPANY, company_id, KIND)
        except UNAVAILABLE as exc:
            if isinstance(exc, NotFound):
                found.not_found += 1
            else:
                found.unavailable = f"HTTP {exc.status}" + (f" {exc.code}" if exc.code else "")
            return
        except RUN_FATAL:
            raise
        except IntercomError as exc:
            found.failures[f"GET /companies/…: HTTP {exc.status}"] += 1
            return
        try:
            company = Company.model_validate(raw)
        except ValidationError as exc:
            found.quarantine.append(quarantine_record(KIND, raw, exc))
            return
        rows[company_id] = company_row(company, lineage)

    await gather_all(*(one(i) for i in ids))
    found.rows = [rows[i] for i in ids if i in rows]  # in the order asked: reruns write alike
    pii.apply(found.rows, COMPANIES.personal, COMPANIES.free_form)
    records = BatchRecords(
        rows={COMPANIES.name: found.rows}, quarantine=pii.scrub_quarantine(found.quarantine)
    )
    metrics = EnrichmentMetrics(
        companies_referenced=len(ids),
        companies_fetched=len(found.rows),
        companies_not_found=found.not_found,
        company_lookups_failed=sum(found.failures.values()),
        companies_quarantined=len(found.quarantine),
        unavailable={f"{COMPANIES.name}: {found.unavailable}": 1} if found.unavailable else {},
        failure_reasons=dict(found.failures),
        **client.stats.metric_fields(),
    )
    return records, metrics
