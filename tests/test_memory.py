"""Arrow's allocator: glibc's malloc (which ``memory.release_memory`` trims) unless the
environment chose one."""

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import AsyncioExecutor, WindowJob, run_pipeline
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.windows import Window

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


def test_a_written_batch_keeps_no_rows_for_whoever_holds_the_task_result(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Prefect's futures hold a task's result in a reference cycle until a full collection;
    once the pipeline has written a batch (or a company step), the result it returned holds no
    rows. Every row is still written."""
    server = sandbox(conversations=300, contacts=80, tickets=20)
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    returned: list[BatchRecords] = []

    class Keeping(AsyncioExecutor):
        def enrich(self, batches, lineage, options):  # type: ignore[no-untyped-def]
            for records, metrics in super().enrich(batches, lineage, options):
                returned.append(records)
                yield records, metrics

        def companies(self, ids, lineage, pii):  # type: ignore[no-untyped-def]
            records, metrics = super().companies(ids, lineage, pii)
            returned.append(records)
            return records, metrics

    window = Window(server.config.window_start, server.config.window_end)
    with Keeping(settings, budget=RateBudget()) as executor:
        job = WindowJob(window, str(tmp_path), 100, EnrichOptions())
        result = run_pipeline(settings, job, executor)
    assert result.incomplete is None and len(returned) > 3
    assert all(not records.rows and records.carried is None for records in returned)
    written = ds.dataset(tmp_path / "conversations", partitioning="hive").count_rows()
    assert written == result.metrics.count("conversations_written") > 0


def _run_window(server, settings, executor: type[AsyncioExecutor], tmp_path: Path):  # type: ignore[no-untyped-def]
    """The sandbox's window through ``run_pipeline`` on ``executor``, in batches of 50."""
    window = Window(server.config.window_start, server.config.window_end)
    with executor(settings, budget=RateBudget()) as running:
        job = WindowJob(window, str(tmp_path), 50, EnrichOptions())
        return run_pipeline(settings, job, running)


def test_while_a_window_runs_only_the_full_collection_every_few_batches_runs(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """``collector_paused``: no collection that allocation triggers (young generations, every
    700 objects) while the window is listed and enriched; ``release_memory``'s full collection
    every four batches (and at the end) does their work. The collector is on again after."""
    import gc

    server = sandbox(conversations=600, contacts=150, tickets=20)
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    generations: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    class Watched(AsyncioExecutor):
        def list_window(self, obj, window):  # type: ignore[no-untyped-def]
            if record not in gc.callbacks:  # from the first listing on
                gc.callbacks.append(record)
            return super().list_window(obj, window)

    assert gc.isenabled()
    try:
        result = _run_window(server, settings, Watched, tmp_path)
    finally:
        gc.callbacks.remove(record)
    assert result.incomplete is None and result.metrics.count("conversations_written") == 600
    assert generations and set(generations) == {2}  # 600 / 50: every four batches, the end
    assert len(generations) >= 600 // 50 // 4
    assert gc.isenabled()


def test_windows_that_overlap_run_with_the_collector_on() -> None:
    """A window alone pauses the collector; a second one at once (a backfill's, in threads)
    turns it back on until both end, so that overlapping windows never leave it off for the
    whole backfill; a collector that was off stays off."""
    import gc

    from intercom_enrichment.memory import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert gc.isenabled()
        assert gc.isenabled()
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()  # alone again: paused again
    gc.disable()
    try:
        for _ in range(2):
            with collector_paused(), collector_paused():
                assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_each_company_step_is_followed_by_a_full_collection(
    sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The companies are read in steps while the collector is paused: each step's garbage is
    collected before the next step, not left to pile up until the window ends."""
    import gc

    from intercom_enrichment.extract import pipeline

    monkeypatch.setattr(pipeline, "COMPANIES_PER_STEP", 5)
    server = sandbox(conversations=200, contacts=60)
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    full: list[int] = []
    seen_at_step: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    class Watched(AsyncioExecutor):
        def companies(self, ids, lineage, pii):  # type: ignore[no-untyped-def]
            seen_at_step.append(len(full))
            return super().companies(ids, lineage, pii)

    gc.callbacks.append(record)
    try:
        result = _run_window(server, settings, Watched, tmp_path)
    finally:
        gc.callbacks.remove(record)
    assert result.incomplete is None
    assert len(seen_at_step) >= 3, seen_at_step  # several steps
    pairs = itertools.pairwise(seen_at_step)
    assert all(later > earlier for earlier, later in pairs), seen_at_step
