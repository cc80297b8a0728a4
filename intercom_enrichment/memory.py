"""Give freed memory back to the operating system, between windows and between batch groups.

A long backfill allocates and frees a window's worth of objects again and again, from several
threads; glibc keeps freed blocks in per-thread arenas, so the resident size creeps up window
after window although the live objects do not (measured: +150 MB over ten 20,000-conversation
windows). ``malloc_trim(0)`` after each window returns those pages; elsewhere it is a no-op.

Within a window, Prefect runs every batch task in a thread of its own, and each new thread may
get a glibc arena of its own (up to eight per core): freed blocks scattered over many arenas
kept the resident size of a 200,000-conversation window growing with its number of batches.
``limit_malloc_arenas`` caps the arenas (``mallopt(M_ARENA_MAX, 2)``) before those threads start.

Arrow keeps its own allocator (mimalloc in the pyarrow wheels), which holds freed pages for reuse;
``release_memory`` asks it to give them back too.
"""

import ctypes
import ctypes.util
import gc
import sys
from functools import cache

import pyarrow as pa


@cache
def _malloc_trim() -> "ctypes._NamedFuncPointer | None":
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim  # glibc only; musl has no malloc_trim
    except (OSError, AttributeError):
        return None


M_ARENA_MAX = -8  # glibc's mallopt parameter


@cache
def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for this process (once); a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        return


def release_memory() -> None:
    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
