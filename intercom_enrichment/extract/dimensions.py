"""The names an analyst joins on: teammates, teams, tags and segments, as whole snapshots.

Conversations carry only ``admin_assignee_id``/``team_assignee_id``, and a contact's tags are
references without names. Once per window run, ``snapshot_dimensions`` reads ``GET /admins``,
``GET /teams``, ``GET /tags`` and ``GET /segments`` (Intercom-OpenAPI
descriptions/2.16/api.intercom.io.yaml: ``admin.list``, ``team.list``, ``list``,
``segment.list``) and replaces ``<output>/dimensions/{admins,teams,tags,segments}.parquet``, each
staged and published in one step through ``Storage`` (readers see the old or the new snapshot,
never a mix). A list that could not be read completely is not published (the previous snapshot
stays) and is reported; the tag id → name map it returns resolves contacts' ``tag_names``.

Teammates are people: the run's PII policy treats their names and emails like a contact's
(kept, HMAC-hashed or dropped; docs/data-contract.md).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.contact_search import RUN_FATAL
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import UNAVAILABLE, IntercomError, VersionTooOld
from intercom_enrichment.layout import dimension_path
from intercom_enrichment.limits import MAX_NUMBERED_PAGES
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.common import to_table
from intercom_enrichment.objects.declaration import Snapshot
from intercom_enrichment.objects.registry import SNAPSHOTS
from intercom_enrichment.output.storage import Storage, discard_staging
from intercom_enrichment.quality.guards import unwritable_reason
from intercom_enrichment.quality.pii import PiiPolicy

log = logging.getLogger(__name__)


@dataclass
class DimensionSnapshot:
    # rows read of the snapshots the run needs (``Snapshot.in_memory``), complete or not
    kept: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)  # names
    rows: dict[str, int] = field(default_factory=dict)  # published tables → rows
    invalid: dict[str, int] = field(default_factory=dict)  # table → records skipped
    incomplete: list[str] = field(default_factory=list)  # tables not replaced (cut short)
    unavailable: dict[str, str] = field(default_factory=dict)  # tables not read → why

    @property
    def tag_names(self) -> dict[str, str]:
        """Tag id → name (contacts' tags are references without names)."""
        return {r["tag_id"]: r["name"] for r in self.kept.get("tags", []) if r["name"]}

    def ids(self, name: str) -> frozenset[str]:
        """The ids (first column) of a kept snapshot's rows: e.g. the deleted conversations."""
        return frozenset(str(next(iter(r.values()))) for r in self.kept.get(name, []))

    def metrics(self, client: IntercomClient) -> EnrichmentMetrics:
        reasons = {
            f"dimensions/{t}: incomplete, previous snapshot kept": 1 for t in self.incomplete
        }
        reasons.update({f"dimensions/{t}: invalid records": n for t, n in self.invalid.items()})
        reasons.update(
            {
                f"dimensions/{t}: not read ({why}), previous snapshot kept": 1
                for t, why in self.unavailable.items()
            }
        )
        return EnrichmentMetrics(
            dimension_rows=dict(self.rows),
            failure_reasons=reasons,
            **client.stats.metric_fields(),
        )


async def snapshot_dimensions(
    client: IntercomClient,
    storage: Storage,
    pii: PiiPolicy,
    *,
    extracted_at: datetime | None = None,
    snapshots: Sequence[Snapshot] = SNAPSHOTS,
) -> DimensionSnapshot:
    """Read each of ``snapshots``' lists once and replace their snapshots; returns the tag id
    → name map."""
    snapshot = DimensionSnapshot()
    extracted_at = extracted_at or datetime.now(UTC)

    async def read(source: Snapshot) -> tuple[list[dict[str, Any]], bool] | IntercomError:
        try:
            endpoint = source.endpoint
            if source.paging == "number":
                return await client.numbered_pages(
                    endpoint.key,
                    endpoint.path,
                    source.list_keys,
                    per_page=source.per_page,
                    max_pages=int(MAX_NUMBERED_PAGES.value()),
                    params=endpoint.params,
                )
            return await client.list_all(
                endpoint.key, endpoint.path, source.list_keys, endpoint.params
            )
        except UNAVAILABLE as exc:  # 403, 404, 400 version: the list is not offered to us
            return exc
        except RUN_FATAL:
            raise
        except IntercomError as exc:  # still failing after the retries
            return exc

    lists = await gather_all(*(read(s) for s in snapshots))
    for source, answer in zip(snapshots, lists, strict=True):
        name = source.name
        if isinstance(answer, IntercomError):
            # The names are an aid, not the window's data: a list that cannot be read keeps
            # its previous snapshot, is reported, and does not fail the window.
            status = f"HTTP {answer.status}" if answer.status is not None else "no response"
            if isinstance(answer, VersionTooOld):
                log.warning(
                    "GET %s is not in Intercom-Version %s (%s): %s cannot be read with it; "
                    "%s not replaced",
                    source.endpoint.path,
                    client.settings.api_version,
                    answer.code,
                    name.replace("_", " "),
                    name,
                )
            else:
                log.warning(
                    "GET %s failed (%s): %s not replaced", source.endpoint.path, status, name
                )
            snapshot.unavailable[name] = status
            continue
        raw, complete = answer
        rows: dict[str, dict[str, Any]] = {}  # by id: a repeated item counts once
        for item in raw:
            try:  # a record that cannot be written exactly is skipped (counted), never fatal
                row = (
                    {} if unwritable_reason(item) else source.row(source.model.model_validate(item))
                )
            except ValidationError:
                row = {}
            key = next(iter(row.values()), None)
            if not key:  # unreadable, or without an id
                snapshot.invalid[name] = snapshot.invalid.get(name, 0) + 1
                continue
            rows.setdefault(key, {**row, "extracted_at": extracted_at})
        if source.in_memory:
            snapshot.kept[name] = list(rows.values())
        if not complete:
            log.warning(
                "GET %s had more pages than read: %s not replaced", source.endpoint.path, name
            )
            snapshot.incomplete.append(name)
            continue
        table_rows = sorted(rows.values(), key=lambda r: str(next(iter(r.values()))))
        pii.apply(table_rows, source.personal)
        _publish(storage, source, table_rows)
        snapshot.rows[name] = len(table_rows)
    return snapshot


def _publish(storage: Storage, source: Snapshot, rows: list[dict[str, Any]]) -> None:
    """Stage and publish one snapshot. Windows of a backfill may snapshot at the same time, so
    only the staging files of processes that are gone (killed mid-write) are cleared first,
    never a live run's."""
    rel = dimension_path(source.name)
    discard_staging(storage, [rel], of_gone_processes=True)
    staged = storage.staging_path(rel)
    try:
        pq.write_table(to_table(rows, source.schema), staged, compression="zstd")
        storage.publish(staged, rel)
    except BaseException:
        storage.discard(staged)
        raise
