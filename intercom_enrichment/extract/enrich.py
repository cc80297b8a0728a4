"""Enrich one batch: look up its contacts (and parts, segments), shape rows, count what happened.

Plain async Python, no Prefect: ``tasks/`` wraps ``enrich_batch`` and the tests call it directly.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.concurrency import both, gather_all
from intercom_enrichment.errors import IntercomError, NotFound
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.objects.models import Contact, Conversation, PartList, Statistics
from intercom_enrichment.objects.rows import (
    ContactLists,
    Lineage,
    contact_row,
    conversation_row,
    part_rows,
)
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.quality.pii import PiiPolicy

from .batching import ConversationBatch
from .listing import Listing, quarantine_record
from .lookup import RUN_FATAL, ContactLookup, lookup_contacts


@dataclass(frozen=True)
class EnrichOptions:
    include_parts: bool = False
    include_segments: bool = False
    pii: PiiPolicy = field(default_factory=PiiPolicy)
    # tag id → name from this run's tag snapshot (dimensions.snapshot_dimensions): a contact's
    # tags are references without names.
    tag_names: Mapping[str, str] = field(default_factory=dict)


def status_of(conv: Conversation, lookup: ContactLookup) -> str:
    if not conv.contact_ids:
        return "no_contact"
    primary = conv.contact_ids[0]
    if primary in lookup.found:
        return "enriched"
    if primary in lookup.not_found:
        return "contact_not_found"
    if primary in lookup.unresolvable:
        return "contact_unresolvable"
    return "failed"


@dataclass
class _Parts:
    by_conversation: dict[str, PartList]
    failures: Counter[str]
    quarantine: list[dict[str, Any]]
    statistics_count: dict[str, int] = field(default_factory=dict)  # by conversation id


def _statistics_count(raw: dict[str, Any]) -> int | None:
    try:
        stats = Statistics.model_validate(raw.get("statistics") or {})
    except ValidationError:
        return None
    return stats.count_conversation_parts


async def _fetch_parts(client: IntercomClient, conversation_ids: list[str]) -> _Parts:
    result = _Parts({}, Counter(), [])

    async def one(conversation_id: str) -> None:
        try:
            raw = await client.get_conversation(conversation_id)
        except RUN_FATAL:
            raise
        except NotFound:
            return  # deleted since it was listed: the row stays, without parts
        except IntercomError as exc:
            result.failures[f"parts GET /conversations/…: HTTP {exc.status}"] += 1
            return
        try:
            parts = PartList.model_validate(raw.get("conversation_parts") or {})
        except ValidationError as exc:  # permanent: quarantined, the row stays without parts
            result.quarantine.append(quarantine_record("conversation_parts", raw, exc))
            return
        result.by_conversation[conversation_id] = parts
        count = _statistics_count(raw)
        if count is not None:
            result.statistics_count[conversation_id] = count

    await gather_all(*(one(i) for i in conversation_ids))
    return result


async def enrich_batch(
    client: IntercomClient,
    batch: ConversationBatch,
    *,
    lineage: Lineage,
    options: EnrichOptions,
) -> tuple[BatchRecords, EnrichmentMetrics]:
    lookup_task = lookup_contacts(
        client, batch.contact_ids, include_segments=options.include_segments
    )
    if options.include_parts:
        parts_task = _fetch_parts(client, batch.conversation_ids)
        lookup, parts = await both(lookup_task, parts_task)
    else:
        lookup, parts = await lookup_task, _Parts({}, Counter(), [])

    records = BatchRecords(
        quarantine=options.pii.scrub_quarantine(lookup.quarantine + parts.quarantine),
        carried=lookup.subset(batch.carry) if batch.carry else None,
    )
    # The conversations' view of their contacts: this batch's lookup, plus what an earlier
    # batch looked up for a continuation batch (batching._bounded). Metrics count only ours.
    view = lookup
    if batch.known is not None:
        view = ContactLookup()
        view.update(batch.known)
        view.update(lookup)
    statuses: Counter[str] = Counter()
    segments_of = view.segments.get if options.include_segments else (lambda _id: None)

    def lists_of(contact: Contact) -> ContactLists:
        return ContactLists.of(
            contact,
            tag_names=options.tag_names,
            full_tags=view.full_tags.get(contact.id),
            full_company_ids=view.full_company_ids.get(contact.id),
        )

    incomplete_parts = 0
    for conv in batch.conversations:  # spilled ones are read here, one at a time (spill.py)
        status = status_of(conv, view)
        statuses[status] += 1
        primary = conv.contact_ids[0] if conv.contact_ids else None
        contact = view.found.get(primary) if primary else None
        part_list = parts.by_conversation.get(conv.id)
        row = conversation_row(
            conv,
            status=status,
            contact=contact,
            lineage=lineage,
            segments=segments_of(primary) if contact and primary else None,
            lists=lists_of(contact) if contact else None,
            parts_total_count=part_list.total_count if part_list else None,
            parts_returned=len(part_list.conversation_parts) if part_list else None,
            parts_statistics_count=parts.statistics_count.get(conv.id),
        )
        incomplete_parts += bool(row["parts_truncated"])
        records.conversations.append(row)
        if part_list:
            records.conversation_parts.extend(
                part_rows(conv.id, part_list.conversation_parts, lineage)
            )
    seen: set[str] = set()
    lists_cut = 0
    for asked in batch.contact_ids:  # in the plan's order, not in the order answers came
        contact = lookup.found.get(asked)
        if contact is not None and contact.id not in seen:  # merged id + canonical: one row
            seen.add(contact.id)
            lists = lists_of(contact)
            lists_cut += lists.tags_truncated or lists.companies_truncated
            records.contacts.append(contact_row(contact, lineage, segments_of(asked), lists))

    options.pii.apply("conversations", records.conversations)
    options.pii.apply("contacts", records.contacts)
    options.pii.apply("conversation_parts", records.conversation_parts)
    metrics = EnrichmentMetrics(
        conversations_written=len(batch.conversations),
        contacts_unique=len(batch.contact_ids),
        contacts_fetched=len(lookup.found),
        contacts_not_found=len(lookup.not_found),
        contact_lookups_failed=len(lookup.failed),
        contacts_unresolvable=len(lookup.unresolvable),
        parts_written=len(records.conversation_parts),
        parts_fetch_failed=sum(parts.failures.values()),
        parts_quarantined=len(parts.quarantine),
        parts_incomplete=incomplete_parts,
        contact_lists_truncated=lists_cut,
        contact_search_chunk_reductions=lookup.search_requests_refused,
        contact_search_chunk_size=lookup.search_chunk_size,
        segments_fetch_failed=len(lookup.segment_failures),
        status_enriched=statuses["enriched"],
        status_no_contact=statuses["no_contact"],
        status_contact_not_found=statuses["contact_not_found"],
        status_contact_unresolvable=statuses["contact_unresolvable"],
        status_failed=statuses["failed"],
        **client.stats.metric_fields(),
        failure_reasons=dict(lookup.reasons() + parts.failures),
    )
    return records, metrics


def listing_metrics(listing: Listing, client: IntercomClient) -> EnrichmentMetrics:
    return EnrichmentMetrics(
        conversations_listed=len(listing.entries) + len(listing.quarantine),
        conversations_quarantined=len(listing.quarantine),
        listing_pages=listing.pages,
        cursor_restarts=listing.cursor_restarts,
        **client.stats.metric_fields(),
    )
