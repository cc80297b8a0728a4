"""Deleted conversations: a deterministic share deleted before the sandbox starts, and more
deleted while it runs.

A deleted conversation is in no ``POST /conversations/search`` result nor ``total_count``,
``GET /conversations/{id}`` answers 404 ``not_found`` "Resource Not Found", and it is listed
by ``GET /conversations/deleted`` (Intercom-OpenAPI descriptions/2.16,
``listDeletedConversationIds``, schema ``deleted_conversation_list``).

Which conversations are deleted is arithmetic, so a search over 200,000 conversations counts
its deleted ones without generating them: the index space is cut into blocks of ``BLOCK``,
the blocks before block ``b`` hold ``floor(b * BLOCK * share)`` deleted conversations (so
``floor(count * share)`` in all), and
block ``b``'s own are a seeded sample of its offsets. ``deleted_at`` is a seeded time 1 minute
to 2 days after the conversation's ``updated_at``; ``metrics_retained`` is a seeded coin.

Delete one while the server runs with ``World.delete_conversation`` in-process, or over HTTP:

    POST /sandbox/conversations/{id}/delete   (same bearer token as the API)
    {"deleted_at": 1759320000, "metrics_retained": false}     (both optional)

Not an Intercom endpoint: it is not rate limited and not counted in the sandbox's stats.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .config import SandboxConfig
from .responses import SearchError, page_numbers, positive_param
from .timeline import Timeline

if TYPE_CHECKING:
    from .world import World

BLOCK = 1000
DELETE_PATH = "/sandbox/conversations/{conversation_id}/delete"


@dataclass(frozen=True)
class Deletion:
    index: int
    deleted_at: int
    metrics_retained: bool


class Deletions:
    """Which of `count` conversations are deleted, and when; thread-safe."""

    def __init__(self, config: SandboxConfig, timeline: Timeline) -> None:
        self._seed, self._count = config.seed, timeline.count
        self._share = config.deleted_conversations
        self._updated_at = timeline.at
        self._lock = threading.Lock()
        self._runtime: dict[int, Deletion] = {}
        self._runtime_sorted: list[int] = []  # indices deleted at run time, ascending
        self._block = functools.lru_cache(maxsize=4096)(self._make_block)
        self._listing: list[Deletion] | None = None

    # -- the deleted set ------------------------------------------------------------------

    def _before_block(self, b: int) -> int:
        """How many conversations of the blocks before block `b` are deleted."""
        return math.floor(min(b * BLOCK, self._count) * self._share)

    def _make_block(self, b: int) -> tuple[int, ...]:
        """Sorted offsets of block `b`'s conversations deleted before the start (the last
        block may be shorter than BLOCK: the share is exact over the whole world)."""
        k = self._before_block(b + 1) - self._before_block(b)
        size = min(BLOCK, self._count - b * BLOCK)
        rng = random.Random(f"{self._seed}:deleted:{b}")
        return tuple(sorted(rng.sample(range(size), k)))

    def _static(self, i: int) -> bool:
        b, offset = divmod(i, BLOCK)
        offsets = self._block(b)
        k = bisect.bisect_left(offsets, offset)
        return k < len(offsets) and offsets[k] == offset

    def is_deleted(self, i: int) -> bool:
        with self._lock:
            if i in self._runtime:
                return True
        return 0 <= i < self._count and self._static(i)

    def below(self, x: int) -> int:
        """How many conversations with index < `x` are deleted."""
        x = min(max(x, 0), self._count)
        b, offset = divmod(x, BLOCK)
        static = self._before_block(b) + bisect.bisect_left(self._block(b), offset)
        with self._lock:
            return static + bisect.bisect_left(self._runtime_sorted, x)

    def any(self) -> bool:
        with self._lock:
            return self._share > 0 or bool(self._runtime)

    # -- deleting while the server runs -----------------------------------------------------

    def delete(self, i: int, deleted_at: int, metrics_retained: bool | None = None) -> Deletion:
        """Delete conversation `i` at `deleted_at` (ValueError if it already is deleted)."""
        if self.is_deleted(i):
            raise ValueError("the conversation is already deleted")
        if metrics_retained is None:
            metrics_retained = self._retained(i)
        deletion = Deletion(i, deleted_at, metrics_retained)
        with self._lock:
            self._runtime[i] = deletion
            bisect.insort(self._runtime_sorted, i)
            self._listing = None
        return deletion

    def _retained(self, i: int) -> bool:
        return random.Random(f"{self._seed}:metrics-retained:{i}").random() < 0.5

    # -- the listing ------------------------------------------------------------------------

    def listing(self) -> list[Deletion]:
        """Every deleted conversation, by ``deleted_at`` then index (oldest first)."""
        with self._lock:
            if self._listing is not None:
                return self._listing
            runtime = list(self._runtime.values())
        static = []
        for b in range(-(-self._count // BLOCK)):
            for offset in self._block(b):
                i = b * BLOCK + offset
                if i < self._count:
                    rng = random.Random(f"{self._seed}:deleted-at:{i}")
                    at = self._updated_at(i) + rng.randint(60, 2 * 86_400)
                    static.append(Deletion(i, at, self._retained(i)))
        listing = sorted(static + runtime, key=lambda d: (d.deleted_at, d.index))
        with self._lock:
            if len(self._runtime) == len(runtime):
                self._listing = listing
        return listing

    def survivors(self, indices: range) -> Sequence[int]:
        """`indices` without the deleted conversations (a lazy view when there are any)."""
        return Survivors(self, indices) if self.any() else indices


class Survivors(Sequence[int]):
    """The indices of a range that are not deleted, indexable without listing them."""

    def __init__(self, deletions: Deletions, indices: range) -> None:
        self._d, self._lo, self._hi = deletions, indices.start, indices.stop
        self._base = deletions.below(self._lo)
        self._len = (self._hi - self._lo) - (deletions.below(self._hi) - self._base)

    def __len__(self) -> int:
        return self._len

    def _kept_through(self, x: int) -> int:
        """How many indices of ``[lo, x]`` are kept."""
        return (x + 1 - self._lo) - (self._d.below(x + 1) - self._base)

    @overload
    def __getitem__(self, k: int) -> int: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[int]: ...
    def __getitem__(self, k: int | slice) -> int | Sequence[int]:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(self._len))]
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(k)
        low, high = self._lo + k, self._hi - 1  # the k-th kept index lies in [low, high]
        while low < high:
            mid = (low + high) // 2
            if self._kept_through(mid) >= k + 1:
                high = mid
            else:
                low = mid + 1
        return low

    def __iter__(self) -> Iterator[int]:
        return (i for i in range(self._lo, self._hi) if not self._d.is_deleted(i))


DELETED_PER_PAGE, DELETED_MAX_PER_PAGE = 20, 60


def deleted_page(
    listing: list[Deletion], conversation_id: Callable[[int], str], query: dict[str, str], url: str
) -> dict[str, Any]:
    """One page of ``GET /conversations/deleted`` (descriptions/2.16: ``page``, ``per_page``
    default 20 maximum 60 (larger is clamped), ``order`` asc|desc default desc). The spec does
    not say what is ordered: the sandbox orders by ``deleted_at`` (then id), as the example's
    two items are. ``pages.next`` is the next page's URL on this server, null on the last."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise SearchError("parameter_invalid", f"order must be asc or desc, got {order!r}")
    page = positive_param(query.get("page"), 1)
    per_page = positive_param(query.get("per_page"), DELETED_PER_PAGE, "per_page")
    per_page = min(per_page, DELETED_MAX_PER_PAGE)
    ordered = listing if order == "asc" else listing[::-1]
    next_url = f"{url}?per_page={per_page}&order={order}&page="
    window, pages = page_numbers(len(ordered), page, per_page, next_url)
    return {
        "type": "conversations.list",
        "total_count": len(ordered),
        "pages": pages,
        "conversations": [deleted_item(conversation_id(d.index), d) for d in ordered[window]],
    }


def deleted_item(conversation_id: str, deletion: Deletion) -> dict[str, Any]:
    """An item of ``deleted_conversation_list`` (schema ``deleted_conversation_item``)."""
    return {
        "type": "conversation",
        "id": conversation_id,
        "metrics_retained": deletion.metrics_retained,
        "deleted_at": deletion.deleted_at,
    }


def delete_conversation(
    world: World, conv_id: str, deleted_at: int | None, metrics_retained: bool | None
) -> dict[str, Any]:
    """`World.delete_conversation`: record the deletion, return the listed item."""
    i = world.conversation_index(conv_id)
    if i is None:
        raise ValueError(f"no conversation {conv_id!r} (unknown or already deleted)")
    updated_at = world.plan(i).updated_at
    at = max(int(time.time()), updated_at) if deleted_at is None else deleted_at
    if at < updated_at:
        raise ValueError("deleted_at must not be before the conversation's updated_at")
    return deleted_item(conv_id, world.deletions.delete(i, at, metrics_retained))


def delete_route(world: World, token: str) -> Route:
    """The HTTP control endpoint that deletes a conversation of ``world``."""

    async def delete(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            raw = await request.body()
            body: Any = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            deleted_at, retained = body.get("deleted_at"), body.get("metrics_retained")
            if deleted_at is not None and type(deleted_at) is not int:
                raise ValueError("deleted_at must be an integer")
            if retained is not None and not isinstance(retained, bool):
                raise ValueError("metrics_retained must be a boolean")
            item = world.delete_conversation(
                request.path_params["conversation_id"], deleted_at, retained
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(item)

    return Route(DELETE_PATH, delete, methods=["POST"], name="sandbox.delete")
