"""Arrow's allocator: glibc's malloc (which ``memory.release_memory`` trims) unless the
environment chose one."""

import os
import subprocess
import sys

import pytest

PROBE = "import intercom_enrichment, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


@pytest.mark.parametrize(("chosen", "expected"), [(None, "system"), ("jemalloc", "jemalloc")])
def test_arrow_uses_the_system_allocator_unless_the_environment_chose_one(
    chosen: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == expected


SETTLE = """
import gc
from intercom_enrichment.memory import settle_startup_heap
assert gc.get_freeze_count() == 0
settle_startup_heap()
frozen = gc.get_freeze_count()
garbage = [[i] for i in range(1000)]
settle_startup_heap()
print(frozen > 0, gc.get_freeze_count() == frozen)
"""


def test_the_startup_heap_is_frozen_once_per_process_never_again() -> None:
    """Frozen objects are never collected: a second freeze (between windows) would keep an
    earlier window's garbage cycles alive for the life of the process."""
    out = subprocess.run([sys.executable, "-c", SETTLE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
