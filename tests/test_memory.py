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
