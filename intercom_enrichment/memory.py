"""Give freed memory back to the operating system, between windows and every few batches.

A long backfill allocates and frees a window's worth of objects again and again, from several
threads; glibc keeps freed blocks in per-thread arenas, so the resident size creeps up window
after window although the live objects do not (measured: +150 MB over ten 20,000-conversation
windows). ``malloc_trim(0)`` after each window returns those pages; elsewhere it is a no-op.

Within a window, Prefect runs every batch task in a thread of its own, and each new thread may
get a glibc arena of its own (up to eight per core): freed blocks scattered over many arenas
kept the resident size of a 200,000-conversation window growing with its number of batches.
``limit_malloc_arenas`` caps the arenas (``mallopt(M_ARENA_MAX, 2)``) before those threads start.

Arrow's own allocator in the pyarrow wheels (mimalloc) keeps the pages freed on each thread for
that thread, out of reach of ``release_unused`` called from another one; the refresh's Parquet
writer runs on a thread of its own. The package therefore makes glibc's malloc Arrow's default
pool (``intercom_enrichment/__init__.py``; ``ARROW_DEFAULT_MEMORY_POOL`` set in the environment
wins), which ``malloc_trim`` reaches. Measured: peak RSS of `benchmarks.run --only S4 S5` 352 →
312 MB (20,000-conversation window), 496 → 455 MB (200,000), 400 → 344 and 479 → 429 MB (the
backfills); `benchmarks.refresh --sizes 1000000` 740 → 671 MB, at the same speed.

Python's cyclic garbage collector costs time too: each full collection walks every object the
process holds, and a run holds the hundreds of thousands its imports made (Prefect, pandas,
pyarrow, pydantic's schemas), which never become garbage. ``settle_startup_heap`` moves them
out of the collector's sight (``gc.freeze``) once per process, at the first window. Measured on
S1 with a running server (``benchmarks.collector --no-settle``): 1.91–1.98 s in the collector
without, 0.80–0.83 s with.
The full collection every few batches (``release_memory``) stays: without it S4's
200,000-conversation window peaked at 794 MB instead of 415. While a window is listed and
enriched alone it is the only one (``collector_paused``): the automatic collections that allocation
triggers, every 700 objects, walked each batch's records and rows again and again as they
aged (validating a conversation read back took 47 µs with them and 19 µs without, in S1),
and what they found is what the full collection every few batches finds anyway.
"""

import ctypes
import ctypes.util
import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pyarrow as pa


@cache
def _glibc(name: str) -> "ctypes._NamedFuncPointer | None":
    """glibc's function ``name`` on Linux (musl has no ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(libc, name)
    except (OSError, AttributeError):
        return None


M_ARENA_MAX = -8  # glibc's mallopt parameter


@cache
def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for this process (once); a no-op elsewhere."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(M_ARENA_MAX, arenas)


_settled = False
_settling = threading.Lock()  # a backfill starts its first windows in threads at once


def settle_startup_heap() -> None:
    """Once per process: the collector stops examining the objects alive now (imports,
    settings). A frozen object freed by reference counting is still freed, but a cycle among
    frozen objects is never collected: hence once, before a process's first window, never
    between windows. No collection runs first: the garbage alive at that moment (from the
    imports) is small, and is kept.

    The young generation keeps Python's thresholds: collecting it every 20,000 allocations
    instead of 700 saved a little more time, but S5's backfill of 20,000-conversation windows
    then peaked at 459 and 472 MB, 1.20× and 1.21× its 5,000-conversation peak, against 449 MB
    and 1.19× without (``benchmarks.run --only S5``)."""
    global _settled
    with _settling:
        if _settled:
            return
        gc.freeze()
        _settled = True


_windows = 0  # windows inside collector_paused (a backfill runs a few at once, in threads)
_pausing = threading.Lock()
_resume = False  # whether the collector was on when the window that paused it began


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection while one window runs alone; its caller collects with
    ``release_memory`` every few batches. Windows that overlap (a backfill's) run with the
    collector on, as usual: paused, it would stay off for as long as any window runs, and
    S5's backfill of 20,000-conversation windows, two at once, peaked at 531 MB instead of
    434. The collector's state from before the first window is restored after the last."""
    global _windows, _resume
    with _pausing:
        if _windows == 0:
            _resume = gc.isenabled()
            gc.disable()
        elif _windows == 1 and _resume:
            gc.enable()  # another window is running: the collector is on until both end
        _windows += 1
    try:
        yield
    finally:
        with _pausing:
            _windows -= 1
            if _windows == 0 and _resume:
                gc.enable()


def release_memory() -> None:
    gc.collect()
    # On glibc's malloc (the package's default pool) Arrow's release is a malloc_trim itself,
    # and the trim below finds little left (~1 ms); with another pool chosen, the trim below
    # is the one that returns the pages Python freed.
    pa.default_memory_pool().release_unused()
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)
