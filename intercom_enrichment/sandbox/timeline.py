"""Objects spread evenly over the sandbox's window: object ``i`` of ``count`` is updated at
``start + (i * span) // count``, non-decreasing in ``i``, so a time range of a search maps to an
index range by arithmetic alone. Conversations and tickets each have one. Also: the arithmetic
of object ids (index <-> id)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Timeline:
    start: int
    span: int
    count: int

    def at(self, i: int) -> int:
        """`updated_at` of object `i`: non-decreasing in `i`."""
        return self.start + (i * self.span) // self.count

    def first_index_at_or_after(self, ts: int) -> int:
        """The smallest `i` with ``at(i) >= ts`` (`count` if none)."""
        delta = ts - self.start
        if delta <= 0:
            return 0
        # at(i) >= ts  <=>  i * span >= delta * count  (delta is an integer)
        return min(self.count, -(-delta * self.count // self.span))

    def index_range(self, lo_ts: int, hi_ts: int) -> range:
        """Indices of the objects with ``lo_ts <= at(i) < hi_ts``."""
        lo = self.first_index_at_or_after(lo_ts)
        return range(lo, max(lo, self.first_index_at_or_after(hi_ts)))


def coprime_at_least(modulus: int, candidate: int) -> int:
    """The smallest integer >= `candidate` that is coprime with `modulus` (1 for modulus <= 1)."""
    if modulus <= 1:
        return 1
    candidate = max(candidate, 1)
    while math.gcd(candidate, modulus) != 1:
        candidate += 1
    return candidate


@dataclass(frozen=True)
class NumberIds:
    """Ids ``str(base + i)`` of objects ``0 <= i < count`` (conversations, tickets)."""

    base: int
    count: int

    def id(self, i: int) -> str:
        return str(self.base + i)

    def index(self, object_id: str) -> int | None:
        """Index of the object with this id, or None if there is none."""
        if not object_id.isascii() or not object_id.isdigit():
            return None
        i = int(object_id) - self.base
        return i if 0 <= i < self.count and self.id(i) == object_id else None


@dataclass(frozen=True)
class HexIds:
    """24 lowercase hex ids: an 8-digit `prefix`, then the index in 16 (contacts, companies)."""

    prefix: str
    count: int

    def id(self, i: int) -> str:
        return f"{self.prefix}{i:016x}"

    def index(self, object_id: str) -> int | None:
        """Index of the object with this id, or None if there is none."""
        if len(object_id) != 24 or not object_id.startswith(self.prefix):
            return None
        try:
            i = int(object_id[8:], 16)
        except ValueError:
            return None
        return i if 0 <= i < self.count and self.id(i) == object_id else None
