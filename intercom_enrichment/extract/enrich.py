"""Enrich one batch of a searched object (conversations, tickets): look up its contacts (and
parts, segments), shape rows, count what happened.

Plain async Python, no Prefect: ``tasks/`` wraps ``enrich_batch`` and the tests call it directly.
"""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.concurrency import both, gather_all
from intercom_enrichment.errors import IntercomError, NotFound
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.common import Lineage
from intercom_enrichment.objects.contacts import (
    CONTACTS,
    Contact,
    ContactLists,
    contact_details,
    contact_row,
)
from intercom_enrichment.objects.declaration import (
    FetchedParts,
    RowContext,
    Searched,
    SearchedObject,
    Status,
    Table,
)
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.quality.quarantine import quarantine_record

from .batching import Batch
from .listing import Listing
from .lookup import RUN_FATAL, ContactLookup, lookup_contacts


@dataclass(frozen=True)
class EnrichOptions:
    include_parts: bool = False
    include_segments: bool = False
    pii: PiiPolicy = field(default_factory=PiiPolicy)
    # tag id → name from this run's tag snapshot (dimensions.snapshot_dimensions): a contact's
    # tags are references without names.
    tag_names: Mapping[str, str] = field(default_factory=dict)


def status_of(record: Searched, lookup: ContactLookup) -> Status:
    if not record.contact_ids:
        return Status.NO_CONTACT
    primary = record.contact_ids[0]
    if primary in lookup.found:
        return Status.ENRICHED
    if primary in lookup.not_found:
        return Status.CONTACT_NOT_FOUND
    if primary in lookup.unresolvable:
        return Status.CONTACT_UNRESOLVABLE
    return Status.FAILED


@dataclass
class _Parts:
    by_id: dict[str, FetchedParts]
    failures: Counter[str]
    quarantine: list[dict[str, Any]]


async def _fetch_parts(client: IntercomClient, obj: SearchedObject, ids: list[str]) -> _Parts:
    result = _Parts({}, Counter(), [])

    async def one(object_id: str) -> None:
        try:
            raw = await client.get_object(obj.get, object_id, obj.kind)
        except RUN_FATAL:
            raise
        except NotFound:
            return  # deleted since it was listed: the row stays, without parts
        except IntercomError as exc:
            result.failures[
                f"parts GET {obj.get.path.replace('{id}', '…')}: HTTP {exc.status}"
            ] += 1
            return
        try:
            result.by_id[object_id] = obj.read_parts(raw)
        except ValidationError as exc:  # permanent: quarantined, the row stays without parts
            result.quarantine.append(quarantine_record(obj.parts.name, raw, exc))

    await gather_all(*(one(i) for i in ids))
    return result


def _protect(pii: PiiPolicy, table: Table, rows: list[dict[str, Any]]) -> None:
    pii.apply(rows, table.personal, table.free_form)


async def enrich_batch(
    client: IntercomClient,
    batch: Batch[Any],
    *,
    lineage: Lineage,
    options: EnrichOptions,
) -> tuple[BatchRecords, EnrichmentMetrics]:
    """Look up the batch's contacts once, fetch each group's parts (with parts on), and shape
    the rows of every group (conversations, tickets) and of the contacts."""
    lookup_task = lookup_contacts(
        client, batch.contact_ids, include_segments=options.include_segments
    )
    if options.include_parts:
        parts_task = gather_all(
            *(_fetch_parts(client, obj, batch.ids_of(records)) for obj, records in batch.groups)
        )
        lookup, fetched = await both(lookup_task, parts_task)
    else:
        lookup, fetched = await lookup_task, [_Parts({}, Counter(), []) for _ in batch.groups]

    records = BatchRecords(
        quarantine=options.pii.scrub_quarantine(
            lookup.quarantine + [q for parts in fetched for q in parts.quarantine]
        ),
        carried=lookup.subset(batch.carry) if batch.carry else None,
    )
    # The records' view of their contacts: this batch's lookup, plus what an earlier batch
    # looked up for a continuation batch (batching._bounded). Metrics count only ours.
    view = lookup
    if batch.known is not None:
        view = ContactLookup()
        view.update(batch.known)
        view.update(lookup)
    segments_of = view.segments.get if options.include_segments else (lambda _id: None)

    def lists_of(contact: Contact) -> ContactLists:
        return ContactLists.of(
            contact,
            tag_names=options.tag_names,
            full_tags=view.full_tags.get(contact.id),
            full_company_ids=view.full_company_ids.get(contact.id),
        )

    shaped: dict[str | None, dict[str, Any]] = {}  # primary contact → its columns (read-only)

    def details(record: Searched) -> dict[str, Any]:
        """The primary contact's columns, made once a contact: a busy contact has hundreds of
        conversations, and its custom attributes are encoded to JSON (``json_text``)."""
        primary = record.contact_ids[0] if record.contact_ids else None
        columns = shaped.get(primary)
        if columns is None:
            contact = view.found.get(primary) if primary else None
            if contact is None or primary is None:
                columns = contact_details(None)
            else:
                columns = contact_details(contact, segments_of(primary), lists_of(contact))
            shaped[primary] = columns
        return columns

    counts: Counter[str] = Counter()
    for (obj, group), parts in zip(batch.groups, fetched, strict=True):
        counts.update(_rows(obj, group, parts, view, details, lineage, records))
    contacts = records.of(CONTACTS.name)
    seen: set[str] = set()
    lists_cut = 0
    for asked in batch.contact_ids:  # in the plan's order, not in the order answers came
        contact = lookup.found.get(asked)
        if contact is not None and contact.id not in seen:  # merged id + canonical: one row
            seen.add(contact.id)
            lists = lists_of(contact)
            lists_cut += lists.tags_truncated or lists.companies_truncated
            contacts.append(contact_row(contact, lineage, segments_of(asked), lists))
    protected = [CONTACTS, *(t for obj, _ in batch.groups for t in (obj.table, obj.parts))]
    for table in protected:
        _protect(options.pii, table, records.of(table.name))
    metrics = EnrichmentMetrics(
        counts={k: v for k, v in counts.items() if v},
        contacts_unique=len(batch.contact_ids),
        contacts_fetched=len(lookup.found),
        contacts_not_found=len(lookup.not_found),
        contact_lookups_failed=len(lookup.failed),
        contacts_unresolvable=len(lookup.unresolvable),
        contact_lists_truncated=lists_cut,
        contact_search_chunk_reductions=lookup.search_requests_refused,
        contact_search_chunk_size=lookup.search_chunk_size,
        segments_fetch_failed=len(lookup.segment_failures),
        **client.stats.metric_fields(),
        failure_reasons=dict(lookup.reasons() + sum((p.failures for p in fetched), Counter())),
    )
    return records, metrics


def _rows(
    obj: SearchedObject,
    group: Sequence[Any],
    parts: _Parts,
    view: ContactLookup,
    details: Callable[[Any], dict[str, Any]],
    lineage: Lineage,
    records: BatchRecords,
) -> Counter[str]:
    """Shape one group's rows (and its parts'), appending them to ``records``; its counts."""
    names = obj.metrics
    counts: Counter[str] = Counter()
    rows, part_rows = records.of(obj.table.name), records.of(obj.parts.name)
    for record in group:  # spilled ones are read here, one at a time (spill.py)
        status = status_of(record, view)
        counts[names.of_status(status)] += 1
        fetched = parts.by_id.get(record.id)
        row = obj.row(record, RowContext(status, lineage, details(record), fetched))
        counts[names.parts_incomplete] += bool(row["parts_truncated"])
        rows.append(row)
        if fetched:
            new_parts = obj.part_rows(record.id, fetched.parts, lineage)
            counts[names.parts_written] += len(new_parts)
            part_rows.extend(new_parts)
    counts[names.written] += len(group)
    counts[names.parts_fetch_failed] += sum(parts.failures.values())
    counts[names.parts_quarantined] += len(parts.quarantine)
    return counts


def listing_metrics(listing: Listing, client: IntercomClient) -> EnrichmentMetrics:
    names = listing.obj.metrics
    counts = {
        names.listed: len(listing.entries) + len(listing.quarantine),
        names.quarantined: len(listing.quarantine),
    }
    unavailable = {f"{listing.obj.table.name}: {listing.unavailable}": 1}
    return EnrichmentMetrics(
        counts={k: v for k, v in counts.items() if v},
        unavailable=unavailable if listing.unavailable else {},
        listing_pages=listing.pages,
        cursor_restarts=listing.cursor_restarts,
        **client.stats.metric_fields(),
    )
