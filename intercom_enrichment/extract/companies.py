"""The companies a window's contacts reference, each read once: picked out of ``POST
/companies/list`` when listing the workspace takes fewer requests (``listed``), the rest by id
(``objects/companies.py`` says when and why). By id: ``GET /companies/{id}``; 404 → gone
(counted, no row); a record that does not validate → quarantined; 403 and the like
(``errors.UNAVAILABLE``) → companies unavailable for the run (reported; the window's earlier
company files are kept); a transient failure after the retries → counted, and the window is
incomplete (a rerun repairs it). The list only saves requests: any failure of it, a page it
does not answer, a shape it does not have or a company it leaves out is read by id instead.
"""

import logging
import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import (
    IntercomClient,
    list_items,
    per_page,
    total_count,
    total_pages,
)
from intercom_enrichment.api.contact_search import RUN_FATAL
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import UNAVAILABLE, IntercomError, NotFound
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.common import Lineage
from intercom_enrichment.objects.companies import (
    COMPANIES,
    GET_COMPANY,
    KIND,
    LIST_COMPANIES,
    LIST_KEYS,
    LIST_LIMIT,
    LIST_WORTH,
    Company,
    company_row,
)
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.quality.quarantine import quarantine_record

# Ids fetched by one step (a task of the flow). Each step that picks from the list reads the
# whole list, so a step is large: S1's 1,189 companies take one step and 24 list pages, where
# steps of 500 took three and 72. Its rows are ~0.6 KB each in memory (11,591 cost ~7 MB, S4).
COMPANIES_PER_STEP = 2000
log = logging.getLogger(__name__)


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
    rows = {i: company_row(c, lineage) for i, c in (await listed(client, ids)).items()}

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

    await gather_all(*(one(i) for i in ids if i not in rows))
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


async def listed(client: IntercomClient, ids: Collection[str]) -> dict[str, Company]:
    """The companies among ``ids`` that ``POST /companies/list`` brings, validated, when its
    pages are fewer than the ids its first page leaves; ``{}`` (or the first page's) when by
    id is cheaper, the workspace is over ``LIST_LIMIT`` or the list fails in any way."""
    wanted = set(ids)
    if len(wanted) < LIST_WORTH:
        return {}
    found: dict[str, Company] = {}
    first = await _list_page(client, 1)
    if isinstance(first, IntercomError):
        log.info("companies list: HTTP %s; the companies are read by id", first.status)
        return found
    _pick(first, wanted, found)
    total, count, size = _page_counts(first)
    if total is None or count is None or size is None:
        return found  # nothing to decide by: by id
    cheaper = total - 1 < len(wanted) - len(found)
    if count > LIST_LIMIT or total > math.ceil(LIST_LIMIT / size) or not cheaper:
        return found

    async def page(number: int) -> None:  # picked as it arrives: no page is held for the rest
        body = await _list_page(client, number)
        if isinstance(body, IntercomError):
            log.info("companies list: HTTP %s; that page's companies are read by id", body.status)
        else:
            _pick(body, wanted, found)

    await gather_all(*(page(number) for number in range(2, total + 1)))
    return found


async def _list_page(client: IntercomClient, page: int) -> dict[str, Any] | IntercomError:
    """One page of the list. An error is returned, not raised (the list only saves requests: a
    403 or 404 to it says nothing of ``GET /companies/{id}``), except a 401 or a server that is
    not Intercom, which end the run as anywhere else."""
    params = {**LIST_COMPANIES.params, "page": str(page)}
    try:
        return await client.request(
            LIST_COMPANIES.key, "POST", LIST_COMPANIES.path, lists=LIST_KEYS, params=params
        )
    except UNAVAILABLE as exc:
        return exc
    except RUN_FATAL:
        raise
    except IntercomError as exc:
        return exc


def _pick(body: dict[str, Any], wanted: set[str], found: dict[str, Company]) -> None:
    """The wanted companies of one list page that validate (the others are read by id)."""
    for raw in list_items(body, LIST_KEYS):
        company_id = raw.get("id")
        if isinstance(company_id, str) and company_id in wanted and company_id not in found:
            try:
                found[company_id] = Company.model_validate(raw)
            except ValidationError:
                continue


def _page_counts(body: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """``pages.total_pages``, ``total_count`` and ``pages.per_page`` where each is a positive
    integer, else None."""

    def positive(value: int | None) -> int | None:
        return value if value is not None and value >= 1 else None

    return positive(total_pages(body)), positive(total_count(body)), positive(per_page(body))
