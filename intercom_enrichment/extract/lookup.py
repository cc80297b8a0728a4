"""Look up a set of contacts: bulk search first, single GETs for what the search did not return.

``POST /contacts/search`` (in IN lists the server accepts: contact_search.py) leaves out merged
contacts and contacts created minutes ago, so every id it does not return is fetched with
``GET /contacts/{id}``: 404 means the contact is gone (``contact_not_found``); from
``Intercom-Version`` 2.16 a merged contact answers 410 whose ``Link`` names the canonical
contact, which is followed once (up to 2.15 it answers 404 like a deleted one: Intercom-OpenAPI
descriptions/2.15 vs 2.16, GET /contacts/{id}). An id that still fails after the client's
retries is recorded with its reason; the caller writes its objects with
``enrichment_status=failed`` (a rerun may repair it).

Conditions no rerun can repair make the contact *unresolvable* (``contact_unresolvable``): an id
that is not a plain Intercom id (never sent), a contact record that does not validate (it is
quarantined), a 410 that names no canonical contact or names one that is itself merged (a merge
chain longer than the one hop followed).

A contact lists at most 10 tags and 10 companies, with ``has_more`` when there are more; for
those contacts the full lists are fetched (``GET /contacts/{id}/tags``, ``/companies``); a list
that cannot be fetched stays cut and is flagged (``tags_truncated``/``companies_truncated``).
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.contact_search import (
    RUN_FATAL,
    ChunkSizer,
    chunk_sizer,
    search_in_chunks,
)
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import ContactMerged, IntercomError, NotFound
from intercom_enrichment.objects.common import Tag
from intercom_enrichment.objects.contacts import Contact
from intercom_enrichment.objects.workspace import Segment
from intercom_enrichment.quality.guards import is_plain_id
from intercom_enrichment.quality.quarantine import quarantine_record

__all__ = ["RUN_FATAL", "ContactLookup", "lookup_contacts"]


@dataclass
class ContactLookup:
    found: dict[str, Contact] = field(default_factory=dict)  # by the id asked for
    not_found: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # id → reason (transient)
    unresolvable: dict[str, str] = field(default_factory=dict)  # id → reason (permanent)
    segments: dict[str, list[str]] = field(default_factory=dict)
    segment_failures: dict[str, str] = field(default_factory=dict)  # id → reason
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    full_tags: dict[str, list[Tag]] = field(default_factory=dict)  # by contact id (has_more)
    full_company_ids: dict[str, list[str]] = field(default_factory=dict)
    list_failures: dict[str, str] = field(default_factory=dict)  # "tags id" → reason
    search_requests_refused: int = 0  # 400s that made the IN list smaller
    search_chunk_size: int = 0  # the IN-list size in use at the end

    def subset(self, ids: list[str]) -> "ContactLookup":
        """What this lookup knows of ``ids``, for batches that reuse it (no quarantine)."""
        found = [self.found[i] for i in ids if i in self.found]
        return ContactLookup(
            found={i: self.found[i] for i in ids if i in self.found},
            not_found={i for i in ids if i in self.not_found},
            failed={i: self.failed[i] for i in ids if i in self.failed},
            unresolvable={i: self.unresolvable[i] for i in ids if i in self.unresolvable},
            segments={i: self.segments[i] for i in ids if i in self.segments},
            segment_failures={
                i: self.segment_failures[i] for i in ids if i in self.segment_failures
            },
            # Full lists are keyed by the contact's own id (a merged id's canonical one).
            full_tags={c.id: self.full_tags[c.id] for c in found if c.id in self.full_tags},
            full_company_ids={
                c.id: self.full_company_ids[c.id] for c in found if c.id in self.full_company_ids
            },
        )

    def update(self, other: "ContactLookup") -> None:
        """Add what ``other`` knows (of other contacts)."""
        self.found.update(other.found)
        self.not_found.update(other.not_found)
        self.failed.update(other.failed)
        self.unresolvable.update(other.unresolvable)
        self.segments.update(other.segments)
        self.segment_failures.update(other.segment_failures)
        self.full_tags.update(other.full_tags)
        self.full_company_ids.update(other.full_company_ids)

    def reasons(self) -> Counter[str]:
        return (
            Counter(self.failed.values())
            + Counter(f"segments {r}" for r in self.segment_failures.values())
            + Counter(f"contact unresolvable: {r}" for r in self.unresolvable.values())
            + Counter(f"contact lists {r}" for r in self.list_failures.values())
        )


def _reason(exc: IntercomError) -> str:
    """``GET /contacts/…: HTTP 503``: the contact id is left out, so that reasons add up."""
    status = f"HTTP {exc.status}" if exc.status is not None else "no response"
    path = re.sub(r"^/contacts/[^/]+", "/contacts/…", exc.path)
    return f"{exc.method} {path}: {status}".strip()


async def lookup_contacts(
    client: IntercomClient,
    ids: list[str],
    *,
    include_segments: bool = False,
    sizer: ChunkSizer | None = None,
) -> ContactLookup:
    """``sizer``: the IN-list sizer (default: this process's one for the client's app)."""
    result = ContactLookup()
    for cid in ids:
        if not is_plain_id(cid):
            result.unresolvable[cid] = "not a plain Intercom id"
    ids = [i for i in ids if i not in result.unresolvable]
    sizer = sizer if sizer is not None else chunk_sizer(client.settings.budget_key)
    searched = await search_in_chunks(client, ids, sizer)
    result.search_requests_refused = searched.reductions
    result.search_chunk_size = sizer.size()
    wanted = set(ids)
    for raw in searched.found:
        found = _valid(raw)  # an invalid search record: the single GET below decides
        cid = str(raw.get("id"))
        if found is not None and cid in wanted:
            result.found[cid] = found
    missing = [i for i in ids if i not in result.found and i not in result.unresolvable]
    searched_cut = _cut(result)  # their full lists are fetched while the GETs run
    await gather_all(
        *(_fetch_one(client, cid, result) for cid in missing),
        *(_full_lists(client, contact, result) for contact in searched_cut.values()),
    )
    fetched_cut = {k: c for k, c in _cut(result).items() if k not in searched_cut}
    await gather_all(*(_full_lists(client, c, result) for c in fetched_cut.values()))
    if include_segments:
        # By the contact's own id: a merged id answers 410 on /segments too.
        askers: dict[str, list[str]] = {}
        for asked, contact in result.found.items():
            askers.setdefault(contact.id, []).append(asked)
        await gather_all(*(_segments(client, cid, ids, result) for cid, ids in askers.items()))
    return result


def _cut(result: ContactLookup) -> dict[str, Contact]:
    """Found contacts whose embedded tags or companies say ``has_more``, by contact id."""
    return {c.id: c for c in result.found.values() if c.tags.cut or c.companies.cut}


def _valid(raw: dict[str, Any]) -> Contact | None:
    try:
        return Contact.model_validate(raw)
    except ValidationError:
        return None


def _accept(result: ContactLookup, asked: str, raw: dict[str, Any]) -> None:
    """A record from ``GET /contacts/{id}``: found, or — when even that does not validate —
    unresolvable, the record quarantined."""
    try:
        result.found[asked] = Contact.model_validate(raw)
    except ValidationError as exc:
        result.unresolvable[asked] = "invalid contact record"
        result.quarantine.append(quarantine_record("contact", raw, exc))


async def _fetch_one(client: IntercomClient, contact_id: str, result: ContactLookup) -> None:
    try:
        try:
            raw = await client.get_contact(contact_id)
        except ContactMerged as merged:
            if not is_plain_id(merged.canonical_id):
                result.unresolvable[contact_id] = "merged, without a valid canonical contact id"
                return
            try:
                raw = await client.get_contact(merged.canonical_id)  # follow once, not further
            except ContactMerged:
                result.unresolvable[contact_id] = "merge chain longer than one hop"
                return
        _accept(result, contact_id, raw)
    except RUN_FATAL:
        raise
    except NotFound:
        result.not_found.add(contact_id)
    except IntercomError as exc:
        result.failed[contact_id] = _reason(exc)


async def _full_lists(client: IntercomClient, contact: Contact, result: ContactLookup) -> None:
    """The full tag and company lists of a contact whose embedded lists say ``has_more``."""
    if contact.tags.cut:
        try:
            raw = await client.get_contact_tags(contact.id)
            tags = [Tag.model_validate(t) for t in raw]
            result.full_tags[contact.id] = [t for t in tags if t.id]
        except RUN_FATAL:
            raise
        except (IntercomError, ValidationError) as exc:
            result.list_failures[f"tags {contact.id}"] = _list_reason(exc)
    if contact.companies.cut:
        try:
            companies, complete = await client.get_contact_companies(contact.id)
        except RUN_FATAL:
            raise
        except IntercomError as exc:
            result.list_failures[f"companies {contact.id}"] = _list_reason(exc)
            return
        ids = [str(c["id"]) for c in companies if isinstance(c.get("id"), str | int)]
        if complete:
            result.full_company_ids[contact.id] = list(dict.fromkeys(ids))
        else:
            result.list_failures[f"companies {contact.id}"] = "more pages than read"


def _list_reason(exc: Exception) -> str:
    return _reason(exc) if isinstance(exc, IntercomError) else "invalid tag record"


async def _segments(
    client: IntercomClient, contact_id: str, askers: list[str], result: ContactLookup
) -> None:
    """Segments of one contact, recorded under every id it was asked for."""
    try:
        raw = await client.get_contact_segments(contact_id)
    except RUN_FATAL:
        raise
    except NotFound:
        raw = []
    except IntercomError as exc:
        for asked in askers:
            result.segment_failures[asked] = _reason(exc)
        return
    names = []
    for item in raw:
        try:
            names.append(Segment.model_validate(item).name or "")
        except ValidationError:
            continue
    for asked in askers:
        result.segments[asked] = sorted(n for n in names if n)
