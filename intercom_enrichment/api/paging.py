"""Guards of cursor pagination: a search ends, whatever its server answers.

Intercom's search pages forward with ``pages.next.starting_after`` and stops when a page names no
``next`` (Intercom-OpenAPI 2.14–2.16, ``POST /conversations/search`` and ``/contacts/search``).
A server that repeats a cursor, keeps answering empty pages that still name one, or pages far
beyond what its own ``total_count`` allows would page forever: each of those stops the listing
with ``BrokenPagination`` (limits: limits.py).
"""

import math

from intercom_enrichment.errors import BrokenPagination
from intercom_enrichment.limits import MAX_EMPTY_PAGES, MAX_PAGES_UNCOUNTED, PAGE_SLACK


class PageGuard:
    def __init__(self, path: str, per_page: int) -> None:
        self.path = path
        self.per_page = max(per_page, 1)
        self.pages = 0
        self.empty_run = 0
        self.total: int | None = None  # the largest total_count seen
        self.cursors: set[str] = set()

    def check(self, items: int, total_count: int | None, cursor: str | None) -> None:
        """After each page: raise if following ``cursor`` could be an endless loop."""
        self.pages += 1
        if total_count is not None and total_count >= 0:
            self.total = max(self.total or 0, total_count)
        if cursor is None:
            return
        if cursor in self.cursors:
            self._stop(f"the server repeated a cursor after {self.pages} pages")
        self.cursors.add(cursor)
        self.empty_run = self.empty_run + 1 if items == 0 else 0
        if self.empty_run >= MAX_EMPTY_PAGES.default:
            self._stop(f"{self.empty_run} empty pages in a row still named a next cursor")
        allowed = (
            math.ceil(self.total / self.per_page) + PAGE_SLACK.default
            if self.total is not None
            else MAX_PAGES_UNCOUNTED.default
        )
        if self.pages >= allowed:
            count = f"total_count {self.total}" if self.total is not None else "no total_count"
            self._stop(f"{self.pages} pages and still a next cursor ({count})")

    def _stop(self, reason: str) -> None:
        raise BrokenPagination(f"search stopped: {reason}", method="POST", path=self.path)
