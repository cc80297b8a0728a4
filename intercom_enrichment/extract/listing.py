"""Every conversation of a window, exactly once, listed with concurrent sub-window searches.

One search's cursor pages are sequential, so a window whose first page reports many results is
split into sub-windows that are paged concurrently. The API leaves the inclusivity of ``>``/``<``
open and does not promise an order, so each (sub-)window asks one second wider on both sides and
keeps only what it owns (``start <= updated_at < end``); results are then de-duplicated by id,
keeping the greatest ``updated_at``. Neither strict nor inclusive servers, nor conversations that
appear on two pages, can make a conversation count twice or go missing.

A rejected cursor is documented as 400 ``client_error`` "Invalid starting_after param…": any 400
to a page request that carried ``starting_after`` (every page after the first), or whose message
names it, restarts that (sub-)listing from its first page, at most ``CURSOR_RESTARTS`` times;
the de-duplication makes the pages seen twice harmless.
"""

import logging
import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import SEARCH_PAGE_SIZE
from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import BadRequest, InvalidCursor
from intercom_enrichment.objects.models import Conversation, ConversationPage
from intercom_enrichment.quality.guards import loggable, quarantine_id, timestamp_reason
from intercom_enrichment.windows import Window

from .spill import ConversationSpill, ListedConversations

log = logging.getLogger(__name__)

CURSOR_RESTARTS = 3


@dataclass
class Listing:
    """A window's distinct conversations: in memory only what planning needs (``entries``,
    sorted by id); the conversations themselves wait in ``spill`` (see ``spill.py``)."""

    entries: ListedConversations
    spill: ConversationSpill
    quarantine: list[dict[str, Any]] = field(default_factory=list)  # items that failed validation
    pages: int = 0
    cursor_restarts: int = 0

    @property
    def conversations(self) -> list[Conversation]:
        """Every listed conversation, read back at once (small windows and tests)."""
        return self.spill.load(self.entries)

    def close(self) -> None:
        self.spill.close()


@dataclass
class _Collector:
    spill: ConversationSpill
    listed: ListedConversations = field(default_factory=ListedConversations)
    invalid: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: int = 0
    cursor_restarts: int = 0

    def add(self, page: ConversationPage, owner: Window) -> None:
        self.pages += 1
        for item in page.conversations:
            try:
                conv = Conversation.model_validate(item)
            except ValidationError as exc:
                if _outside(item, owner):
                    continue  # the neighbouring window's to quarantine, not this one's
                raw_id = item.get("id") if isinstance(item, dict) else None
                key = quarantine_id(raw_id) or f"#{len(self.invalid)}"
                self.invalid.setdefault(key, quarantine_record("conversation", item, exc))
                continue
            if not owner.contains(conv.updated_at):
                continue
            # every version: ``sorted_by_id`` keeps the latest (the spill holds a few twice)
            self.listed.add(conv.id, conv.updated_at, conv.contact_ids, self.spill.add(conv))


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


def quarantine_record(kind: str, item: Any, exc: ValidationError | str) -> dict[str, Any]:
    """A quarantine entry: what, which id, why (field names and rules, never values), and the
    raw record in a form that always serialises (``guards.loggable``); ``pii.scrub_quarantine``
    drops the record under ``hash``/``drop``."""
    if isinstance(exc, str):
        reasons = exc
    else:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
    return {
        "kind": kind,
        "id": quarantine_id(item.get("id")) if isinstance(item, dict) else None,
        "reason": reasons,
        "record": loggable(item),
    }


def _bounds(window: Window) -> tuple[int, int]:
    """Search bounds one second wider than the window on both sides (see module doc)."""
    return math.floor(window.start.timestamp()) - 1, math.ceil(window.end.timestamp())


def cursor_rejected(exc: BadRequest, pages_before: int) -> bool:
    """A 400 to a request that carried ``starting_after`` (any page after the first), or an
    error that names the cursor."""
    return isinstance(exc, InvalidCursor) or pages_before > 0


async def _page_through(
    client: IntercomClient, window: Window, sink: _Collector, per_page: int
) -> None:
    lo, hi = _bounds(window)
    for attempt in range(CURSOR_RESTARTS + 1):
        pages = 0
        try:
            async for page in client.search_conversations(lo, hi, per_page=per_page):
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
    window: Window,
    *,
    per_page: int = SEARCH_PAGE_SIZE,
    max_parallel: int = 8,
    pages_per_subwindow: int = 4,
) -> Listing:
    """List the window's conversations; large windows are split from the first page's count.

    The caller owns the returned ``Listing`` and closes it (its spill file) when done.
    """
    sink = _Collector(ConversationSpill())
    try:
        await _list_into(sink, client, window, per_page, max_parallel, pages_per_subwindow)
    except BaseException:
        sink.spill.close()
        raise
    return Listing(
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
    lo, hi = _bounds(window)
    pages = client.search_conversations(lo, hi, per_page=per_page)
    assert isinstance(pages, AsyncGenerator)
    first = await anext(pages)
    sink.add(first, window)
    total_pages = math.ceil((first.total_count or 0) / per_page)
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
