"""Bounded CPU burners: a busy machine for the tests and benchmarks that need one."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

BURN_SECONDS = 600  # burners end by themselves even if their parent is killed


@contextmanager
def busy_cores(n: int = os.cpu_count() or 2) -> Iterator[None]:
    """``n`` CPU burners (separate processes), stopped when the block ends."""
    code = (
        f"import time\nend = time.monotonic() + {BURN_SECONDS}\nwhile time.monotonic() < end: pass"
    )
    burners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(10)
