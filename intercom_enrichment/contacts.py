"""Look up a set of contacts: bulk search first, single GETs for what the search did not return.

``POST /contacts/search`` leaves out merged contacts and contacts created minutes ago, so every
id it does not return is fetched with ``GET /contacts/{id}``: 404 means the contact is gone
(``contact_not_found``), 410 names the canonical contact in its ``Link`` header, which is
followed once. An id that still fails after the client's retries is recorded with its reason;
the caller writes its conversations with ``enrichment_status=failed`` (a rerun may repair it).

Conditions no rerun can repair make the contact *unresolvable* (``contact_unresolvable``): an id
that is not a plain Intercom id (never sent), a contact record that does not validate (it is
quarantined), a 410 that names no canonical contact or names one that is itself merged (a merge
chain longer than the one hop followed).
"""

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .client import IntercomClient
from .errors import (
    ContactMerged,
    Forbidden,
    IntercomError,
    NotFound,
    NotIntercom,
    Unauthorized,
)
from .guards import is_plain_id
from .listing import quarantine_record
from .models import Contact, Segment
from .settings import CONTACT_SEARCH_MAX_IDS

# Errors that mean the whole run cannot succeed: never swallowed per contact.
RUN_FATAL = (Unauthorized, Forbidden, NotIntercom)


@dataclass
class ContactLookup:
    found: dict[str, Contact] = field(default_factory=dict)  # by the id asked for
    not_found: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # id → reason (transient)
    unresolvable: dict[str, str] = field(default_factory=dict)  # id → reason (permanent)
    segments: dict[str, list[str]] = field(default_factory=dict)
    segment_failures: dict[str, str] = field(default_factory=dict)  # id → reason
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    def subset(self, ids: list[str]) -> "ContactLookup":
        """What this lookup knows of ``ids``, for batches that reuse it (no quarantine)."""
        return ContactLookup(
            found={i: self.found[i] for i in ids if i in self.found},
            not_found={i for i in ids if i in self.not_found},
            failed={i: self.failed[i] for i in ids if i in self.failed},
            unresolvable={i: self.unresolvable[i] for i in ids if i in self.unresolvable},
            segments={i: self.segments[i] for i in ids if i in self.segments},
            segment_failures={
                i: self.segment_failures[i] for i in ids if i in self.segment_failures
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

    def reasons(self) -> Counter[str]:
        return (
            Counter(self.failed.values())
            + Counter(f"segments {r}" for r in self.segment_failures.values())
            + Counter(f"contact unresolvable: {r}" for r in self.unresolvable.values())
        )


def _reason(exc: IntercomError) -> str:
    """``GET /contacts/…: HTTP 503``: the contact id is left out, so that reasons add up."""
    status = f"HTTP {exc.status}" if exc.status is not None else "no response"
    path = re.sub(r"^/contacts/[^/]+", "/contacts/…", exc.path)
    return f"{exc.method} {path}: {status}".strip()


async def lookup_contacts(
    client: IntercomClient, ids: list[str], *, include_segments: bool = False
) -> ContactLookup:
    result = ContactLookup()
    for cid in ids:
        if not is_plain_id(cid):
            result.unresolvable[cid] = "not a plain Intercom id"
    ids = [i for i in ids if i not in result.unresolvable]
    chunks = [
        ids[i : i + CONTACT_SEARCH_MAX_IDS] for i in range(0, len(ids), CONTACT_SEARCH_MAX_IDS)
    ]
    pages = await asyncio.gather(*(_search(client, chunk) for chunk in chunks))
    wanted = set(ids)
    for raw in (item for page in pages for item in page):
        found = _valid(raw)  # an invalid search record: the single GET below decides
        cid = str(raw.get("id"))
        if found is not None and cid in wanted:
            result.found[cid] = found
    missing = [i for i in ids if i not in result.found and i not in result.unresolvable]
    await asyncio.gather(*(_fetch_one(client, cid, result) for cid in missing))
    if include_segments:
        # By the contact's own id: a merged id answers 410 on /segments too.
        askers: dict[str, list[str]] = {}
        for asked, contact in result.found.items():
            askers.setdefault(contact.id, []).append(asked)
        await asyncio.gather(*(_segments(client, cid, ids, result) for cid, ids in askers.items()))
    return result


async def _search(client: IntercomClient, chunk: list[str]) -> list[dict[str, Any]]:
    try:
        return await client.search_contacts(chunk)
    except RUN_FATAL:
        raise
    except IntercomError:
        return []  # every id of the chunk falls back to a single GET


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
