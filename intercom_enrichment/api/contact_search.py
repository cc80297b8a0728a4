"""Bulk contact search in IN lists of a size the server accepts, found by halving on a 400.

``POST /contacts/search`` with ``id IN [...]`` has no documented cap on the list: IN is described
as a shortcut for OR, and a group allows at most 15 filters (Intercom-OpenAPI
descriptions/2.16/api.intercom.io.yaml, "Search for contacts"), so a real server may answer 400
to 150 ids. ``ChunkSizer`` keeps, per app and process (like the rate budget), the largest size
a search answered and the smallest one refused: while they are apart, chunks are sent one at a
time — halving after a 400 down to ``CONTACT_SEARCH_MIN_IDS``, then bisecting up to the largest
size that works — and once settled, every later chunk (of this lookup, and of every later one in
this process) is sent at that size, concurrently. The settled size is logged once. Requests stay
near ⌈distinct ids ÷ working size⌉ plus the few probes, never one GET per id.
"""

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from intercom_enrichment.concurrency import gather_all
from intercom_enrichment.errors import (
    BadRequest,
    Forbidden,
    IntercomError,
    NotIntercom,
    Unauthorized,
)

from .client import IntercomClient
from .settings import CONTACT_SEARCH_MAX_IDS, CONTACT_SEARCH_MIN_IDS

log = logging.getLogger(__name__)

PROBE_WAIT_SECONDS = 5.0  # a lookup waits at most this long per probe of another lookup

# Errors that mean the whole run cannot succeed: never swallowed per contact.
RUN_FATAL = (Unauthorized, Forbidden, NotIntercom)


class ChunkSizer:
    """The IN-list size for one app: ``works`` answered, ``fails`` was refused with a 400."""

    def __init__(
        self, ceiling: int = CONTACT_SEARCH_MAX_IDS, floor: int = CONTACT_SEARCH_MIN_IDS
    ) -> None:
        self.ceiling = ceiling
        self.floor = floor
        self.works = 0
        self.fails = ceiling + 1
        self._logged = False
        self._lock = threading.Lock()  # shared by the tasks' threads, never held across awaits
        self._changed = threading.Condition(self._lock)
        self._probing = False  # one probe in flight per app: concurrent lookups wait for it
        self._generation = 0

    @property
    def settled(self) -> bool:
        with self._lock:
            return self._settled()

    def _settled(self) -> bool:
        """A size has answered, and nothing larger is left to try (until one is refused)."""
        return self.works > 0 and (self.fails > self.ceiling or self.works + 1 >= self.fails)

    def size(self) -> int:
        """The next chunk size; 0 when even the floor was refused (search unusable)."""
        with self._lock:
            if self.fails > self.ceiling:
                return self.ceiling
            if self.works + 1 >= self.fails:
                return self.works
            if self.fails <= self.floor:
                return 0
            if self.works == 0:
                return max(self.floor, self.fails // 2)  # halve
            return (self.works + self.fails) // 2  # bisect towards the largest that works

    def try_probe(self) -> tuple[bool, int]:
        """(claimed, generation): claim the one probe in flight, or learn which to wait for."""
        with self._lock:
            claimed = not self._probing
            self._probing = True
            return claimed, self._generation

    def end_probe(self) -> None:
        with self._lock:
            self._probing = False
            self._generation += 1
            self._changed.notify_all()

    def wait_for_probe(self, generation: int, timeout: float) -> None:
        """Block (a worker thread, not the event loop) until that probe ended, or ``timeout``."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation, timeout)

    def succeeded(self, n: int) -> None:
        with self._lock:
            self.works = max(self.works, n)
            self.fails = max(self.fails, self.works + 1)
            self._log_once()

    def refused(self, n: int) -> bool:
        """Record a 400 to ``n`` ids; False when ``n`` is known to work (not a size problem)."""
        with self._lock:
            if n <= self.works:
                return False
            self.fails = min(self.fails, n)
            self._log_once()
            return True

    def _log_once(self) -> None:
        if self._logged or self.fails > self.ceiling:
            return
        if self.works + 1 >= self.fails or self.fails <= self.floor:
            self._logged = True
            log.warning(
                "POST /contacts/search refused IN lists of %d ids: %s for the rest of this run",
                self.fails,
                f"using {self.works} ids per search" if self.works else "single GETs",
            )


_SIZERS: dict[str, ChunkSizer] = {}
_SIZERS_LOCK = threading.Lock()


def chunk_sizer(app_key: str) -> ChunkSizer:
    """The process-wide sizer of one app (``IntercomSettings.budget_key``)."""
    with _SIZERS_LOCK:
        return _SIZERS.setdefault(app_key, ChunkSizer())


@dataclass
class SearchOutcome:
    found: list[dict[str, Any]] = field(default_factory=list)
    unsearched: list[str] = field(default_factory=list)  # for single GETs
    reductions: int = 0  # 400s that made the chunk smaller


async def search_in_chunks(
    client: IntercomClient, ids: list[str], sizer: ChunkSizer
) -> SearchOutcome:
    out = SearchOutcome()
    rest = list(ids)
    while rest:
        size = sizer.size()
        if size == 0:  # refused even at the floor: every id falls back to a single GET
            out.unsearched.extend(rest)
            return out
        if sizer.settled:
            chunks = [rest[i : i + size] for i in range(0, len(rest), size)]
            results = await gather_all(*(_one(client, c, sizer, out) for c in chunks))
            rest = [i for retry in results for i in retry]
            continue
        claimed, generation = sizer.try_probe()
        if not claimed:  # another lookup of this app is probing: its answer is ours too
            await asyncio.to_thread(sizer.wait_for_probe, generation, PROBE_WAIT_SECONDS)
            continue
        try:
            size = sizer.size()
            if size:
                chunk, rest = rest[:size], rest[size:]  # probe one chunk at a time
                rest = await _one(client, chunk, sizer, out) + rest
        finally:
            sizer.end_probe()
    return out


async def _one(
    client: IntercomClient, chunk: list[str], sizer: ChunkSizer, out: SearchOutcome
) -> list[str]:
    """Search one chunk; returns the ids to try again in smaller chunks."""
    try:
        out.found.extend(await client.search_contacts(chunk))
    except RUN_FATAL:
        raise
    except BadRequest:
        if sizer.refused(len(chunk)):
            out.reductions += 1
            return chunk
        out.unsearched.extend(chunk)  # a size known to work was refused: not the size
        return []
    except IntercomError:
        out.unsearched.extend(chunk)  # still failing after retries: single GETs
        return []
    sizer.succeeded(len(chunk))
    return []
