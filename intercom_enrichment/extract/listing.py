"""Every object of a window (conversations, tickets: ``SearchedObject``s), exactly once, listed
with concurrent sub-window searches.

One search's cursor pages are sequential, so a window whose first page reports many results is
split into sub-windows that are paged concurrently. The API leaves the inclusivity of ``>``/``<``
open and does not promise an order, so each (sub-)window asks one second wider on both sides and
keeps only what it owns (``start <= updated_at < end``); results are then de-duplicated by id,
keeping the greatest ``updated_at``. Neither strict nor inclusive servers, nor objects that
appear on two pages, can make an object count twice or go missing.

A rejected cursor is documented as 400 ``client_error`` "Invalid starting_after param…": any 400
to a page request that carried ``starting_after`` (every page after the first), or whose message
names it, restarts that (sub-)listing from its first page, at most ``CURSOR_RESTARTS`` times;
the de-duplication makes the pages seen twice harmless.
"""

import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import SEARCH_PAGE_SIZE
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import BadRequest, InvalidCursor
from intercom_enrichment.objects.common import CHECKED, Record, SearchPage
from intercom_enrichment.objects.declaration import SearchedObject
from intercom_enrichment.quality.guards import quarantine_id, timestamp_reason, writable_json
from intercom_enrichment.quality.quarantine import quarantine_record
from intercom_enrichment.windows import Window

from .spill import ListedEntries, RecordSpill

log = logging.getLogger(__name__)

CURSOR_RESTARTS = 3


@dataclass
class Listing:
    """A window's distinct objects of one kind: in memory only what planning needs
    (``entries``, sorted by id); the records themselves wait in ``spill`` (see ``spill.py``)."""

    obj: SearchedObject
    entries: ListedEntries
    spill: RecordSpill
    # items that failed validation (people's data: kept out of the repr, like BatchRecords')
    quarantine: list[dict[str, Any]] = field(default_factory=list, repr=False)
    pages: int = 0
    cursor_restarts: int = 0
    unavailable: str | None = None  # why the object could not be listed at all (e.g. HTTP 403)
    deleted: int = 0  # listed, then left out: deleted in Intercom (``without``)

    @classmethod
    def unavailable_for(cls, obj: SearchedObject, why: str) -> "Listing":
        spill = RecordSpill(obj.model)
        return cls(obj, ListedEntries().sorted_by_id(), spill, unavailable=why)

    def without(self, ids: frozenset[str]) -> "Listing":
        """This listing less the records whose id is in ``ids`` (deleted since); ``deleted``
        counts them."""
        entries = self.entries.without(ids)
        quarantine = [q for q in self.quarantine if q.get("id") not in ids]  # raw records too
        if entries is self.entries and len(quarantine) == len(self.quarantine):
            return self
        deleted = len(self.entries) - len(entries) + len(self.quarantine) - len(quarantine)
        return replace(self, entries=entries, quarantine=quarantine, deleted=deleted)

    @property
    def records(self) -> list[Record]:
        """Every listed record, read back at once (small windows and tests)."""
        return self.spill.load(self.entries)

    def close(self) -> None:
        self.spill.close()


@dataclass
class _Collector:
    obj: SearchedObject
    spill: RecordSpill
    listed: ListedEntries = field(default_factory=ListedEntries)
    invalid: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: int = 0
    cursor_restarts: int = 0

    def add(self, page: SearchPage, owner: Window) -> None:
        self.pages += 1
        model = self.obj.model
        for item in page.items:
            reason, data = writable_json(item, strict=page.strict)
            try:
                if reason:  # the model's own check raises it, with the usual error
                    model.model_validate(item)
                record: Any = model.model_validate(item, context=CHECKED)
            except ValidationError as exc:
                if _outside(item, owner):
                    continue  # the neighbouring window's to quarantine, not this one's
                raw_id = item.get("id") if isinstance(item, dict) else None
                key = quarantine_id(raw_id) or f"#{len(self.invalid)}"
                self.invalid.setdefault(key, quarantine_record(self.obj.kind, item, exc))
                continue
            if not owner.contains(record.updated_at):
                continue
            # every version: ``sorted_by_id`` keeps the latest (the spill holds a few twice)
            location = self.spill.add(data)  # the checked text: no second encoding
            self.listed.add(record.id, record.updated_at, record.contact_ids, location)


def _outside(item: Any, owner: Window) -> bool:
    """An invalid item whose ``updated_at`` is a valid time and not in ``owner`` (one with no
    valid time belongs to no window: every window that sees it quarantines it)."""
    raw = item.get("updated_at") if isinstance(item, dict) else None
    try:
        seconds = float(raw) if raw is not None and not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError, OverflowError):
        return False
    if not math.isfinite(seconds) or timestamp_reason(int(seconds)):
        return False
    return not owner.contains(seconds)


def _bounds(window: Window) -> tuple[int, int]:
    """Search bounds one second wider than the window on both sides (see module doc)."""
    return math.floor(window.start.timestamp()) - 1, math.ceil(window.end.timestamp())


def cursor_rejected(exc: BadRequest, pages_before: int) -> bool:
    """A 400 to a request that carried ``starting_after`` (any page after the first), or an
    error that names the cursor."""
    return isinstance(exc, InvalidCursor) or pages_before > 0


def _search(
    client: IntercomClient, obj: SearchedObject, window: Window, per_page: int
) -> AsyncIterator[SearchPage]:
    lo, hi = _bounds(window)
    return client.search_updated(obj.search, obj.list_key, lo, hi, per_page=per_page)


async def _page_through(
    client: IntercomClient, window: Window, sink: _Collector, per_page: int
) -> None:
    for attempt in range(CURSOR_RESTARTS + 1):
        pages = 0
        try:
            async for page in _search(client, sink.obj, window, per_page):
                pages += 1
                sink.add(page, window)
            return
        except BadRequest as exc:
            if attempt == CURSOR_RESTARTS or not cursor_rejected(exc, pages):
                raise
            sink.cursor_restarts += 1
            log.warning("cursor rejected while listing %s: restarting that sub-window", window.key)


async def list_window(
    client: IntercomClient,
    obj: SearchedObject,
    window: Window,
    *,
    per_page: int = SEARCH_PAGE_SIZE,
    max_parallel: int = 8,
    pages_per_subwindow: int = 4,
) -> Listing:
    """List the window's objects of ``obj``'s kind; large windows are split from the first
    page's count.

    The caller owns the returned ``Listing`` and closes it (its spill file) when done.
    """
    sink = _Collector(obj, RecordSpill(obj.model))
    try:
        await _list_into(sink, client, window, per_page, max_parallel, pages_per_subwindow)
    except BaseException:
        sink.spill.close()
        raise
    return Listing(
        obj,
        sink.listed.sorted_by_id(),
        sink.spill,
        list(sink.invalid.values()),
        sink.pages,
        sink.cursor_restarts,
    )


async def _list_into(
    sink: _Collector,
    client: IntercomClient,
    window: Window,
    per_page: int,
    max_parallel: int,
    pages_per_subwindow: int,
) -> None:
    pages = _search(client, sink.obj, window, per_page)
    assert isinstance(pages, AsyncGenerator)
    first = await anext(pages)
    sink.add(first, window)
    if first.total_count is None:  # undocumented size: assume a long listing, page it at once
        parts = max_parallel
    else:
        total_pages = math.ceil(first.total_count / per_page)
        parts = min(max_parallel, math.ceil(total_pages / pages_per_subwindow))
    if first.next_cursor and parts > 1:
        await pages.aclose()
        subs = window.split(parts)
        log.debug("listing %s as %d concurrent sub-windows", window.key, len(subs))
        await gather_all(*(_page_through(client, sub, sink, per_page) for sub in subs))
    else:
        try:
            async for page in pages:  # every request here carries starting_after
                sink.add(page, window)
        except BadRequest:  # to a request that carried starting_after: ``cursor_rejected``
            sink.cursor_restarts += 1
            log.warning("cursor rejected while listing %s: restarting it", window.key)
            await _page_through(client, window, sink, per_page)
