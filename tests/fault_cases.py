"""Issue 5's fault matrix: each case runs the plain pipeline against a sandbox that misbehaves
and compares what it wrote with a fault-free run of the same world (and with the world's own
ground truth). Used by tests/test_faults.py and by ``python -m tests.fault_matrix_report``.

Rows are compared table by table (conversations, contacts, conversation_parts) without the
``extracted_at`` column, keyed by their ids: a key of the reference missing from the output is a
row *lost* (unless it was quarantined on purpose: ``RunResult.quarantine``); a key present in
both with different values, or a key the reference does not have, is a row *wrong*.
"""

import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset as ds
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract import pipeline
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import AsyncioExecutor, WindowJob
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.output.writer import quarantine_path
from intercom_enrichment.sandbox import FaultRule, SandboxConfig, SandboxServer, World
from intercom_enrichment.windows import Window

TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "conversations": ("conversation_id",),
    "contacts": ("contact_id",),
    "conversation_parts": ("conversation_id", "part_id"),
}

# A small world that still has every kind of contact and conversation.
WORLD: dict[str, Any] = {
    "conversations": 150,
    "contacts": 60,
    "deleted_contact_share": 0.05,
    "merged_contact_share": 0.05,
    "unsearchable_contact_share": 0.1,
    "no_contact_share": 0.08,
    "multi_contact_share": 0.15,
    "parts_max": 4,
}
LEAN = EnrichOptions()
PARTS = EnrichOptions(include_parts=True)
SEGMENTS = EnrichOptions(include_segments=True)
FULL = EnrichOptions(include_parts=True, include_segments=True)


# -- a transport that forwards to the sandbox and may rewrite what it answers ----------------

Rewrite = Callable[[httpx.Request, dict[str, Any]], dict[str, Any] | None]


@dataclass
class Tap:
    """Shared state of every ``TapTransport`` of a run: what was seen, what was changed."""

    rewrite: Rewrite | None = None
    changed: int = 0  # records rewritten (the "injected" count of transport-made faults)
    search_items: int = 0  # conversations served by all search pages
    search_ids: set[str] = field(default_factory=set)

    def transport(self) -> "TapTransport":
        return TapTransport(self)


class TapTransport(httpx.AsyncBaseTransport):
    def __init__(self, tap: Tap) -> None:
        self.tap = tap
        self.inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
            return response
        raw = await response.aread()
        await response.aclose()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return httpx.Response(200, headers=response.headers, content=raw, request=request)
        if request.url.path == "/conversations/search":
            items = body.get("conversations") or []
            self.tap.search_items += len(items)
            self.tap.search_ids.update(str(c.get("id")) for c in items)
        if self.tap.rewrite is not None:
            new = self.tap.rewrite(request, body)
            if new is not None:
                body = new
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers["content-encoding"] = "identity"
        return httpx.Response(200, headers=headers, json=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultCase:
    name: str
    faults: tuple[FaultRule, ...] = ()
    sandbox: dict[str, Any] = field(default_factory=dict)  # behaviour: rate limit, duplicates…
    world: dict[str, Any] = field(default_factory=lambda: dict(WORLD))
    options: EnrichOptions = LEAN
    per_page: int = 50
    max_attempts: int = 4
    timeout_seconds: float = 5.0
    tap: Callable[[], Tap] | None = None  # a rewriting transport instead of the plain one
    injected_from: str = "faults"  # faults | 404 | 410 | tap | duplicates
    retryable: bool = True  # every injected fault should cost one client retry
    expect_quarantined: int = 0


def invalid_record_tap() -> Tap:
    """A transport that removes ``updated_at`` from one conversation (the middle one of the
    first search page) wherever the search returns it: a record that must be quarantined."""
    tap = Tap()
    target: set[str] = set()

    def rewrite(request: httpx.Request, body: dict[str, Any]) -> dict[str, Any] | None:
        if request.url.path != "/conversations/search":
            return None
        items = body.get("conversations") or []
        if not target and items:
            target.add(str(items[len(items) // 2]["id"]))
        hit = [c for c in items if str(c.get("id")) in target]
        for item in hit:
            item.pop("updated_at", None)
        tap.changed += len(hit)
        return body if hit else None

    tap.rewrite = rewrite
    return tap


CASES: tuple[FaultCase, ...] = (
    FaultCase("500 burst on listing", (FaultRule("conversations.search", "500", first_n=2),)),
    FaultCase("502 burst on contact search", (FaultRule("contacts.search", "502", first_n=2),)),
    FaultCase(
        "503 burst on parts (20 at once)",
        (FaultRule("conversations.get", "503", first_n=20),),
        options=PARTS,
    ),
    FaultCase(
        "503 burst on contact GETs and segments",
        (
            FaultRule("contacts.get", "503", first_n=5),
            FaultRule("contacts.segments", "503", first_n=10),
        ),
        options=SEGMENTS,
    ),
    FaultCase(
        "429 storm, no Retry-After",
        (FaultRule("contacts.segments", "429", first_n=12),),
        options=SEGMENTS,
    ),
    FaultCase(
        "429 storm, Retry-After",
        (FaultRule("conversations.get", "429", first_n=12),),
        sandbox={"retry_after_header": True},
        options=PARTS,
    ),
    FaultCase(
        "429 storm, Retry-After, rate limit 12/10 s",
        (FaultRule("contacts.get", "429", first_n=4),),
        sandbox={"retry_after_header": True, "rate_limit": 12},
    ),
    FaultCase(
        "408 and 409 bursts (retried like 5xx)",
        (
            FaultRule("contacts.get", "408", first_n=3),
            FaultRule("conversations.get", "409", first_n=3),
        ),
        options=PARTS,
    ),
    FaultCase(
        "dropped connections",
        (FaultRule("conversations.get", "drop", first_n=10),),
        options=PARTS,
    ),
    FaultCase(
        "dropped connection on listing", (FaultRule("conversations.search", "drop", first_n=1),)
    ),
    FaultCase(
        "slower than the timeout",
        (
            FaultRule("contacts.search", "slow", first_n=1, slow_seconds=6.0),
            FaultRule("contacts.get", "slow", first_n=3, slow_seconds=6.0),
        ),
        timeout_seconds=2.0,  # generous: all cases share the machine when run in parallel
        max_attempts=5,
    ),
    FaultCase(
        "malformed JSON body",
        (
            FaultRule("conversations.search", "malformed", first_n=1),
            FaultRule("contacts.search", "malformed", first_n=1),
            FaultRule("contacts.get", "malformed", first_n=2),
        ),
    ),
    FaultCase(
        "record that fails validation",
        tap=invalid_record_tap,
        injected_from="tap",
        retryable=False,
        expect_quarantined=1,
    ),
    FaultCase(
        "same conversation on two pages",
        sandbox={"duplicate_across_pages": True},
        per_page=20,
        tap=Tap,  # only watches: counts the repeats
        injected_from="duplicates",
        retryable=False,
    ),
    FaultCase(
        "contacts deleted before lookup (404)",
        world={**WORLD, "deleted_contact_share": 0.25},
        injected_from="404",
        retryable=False,
    ),
    FaultCase(
        "merged contacts (410 + Link)",
        world={**WORLD, "merged_contact_share": 0.25},
        options=SEGMENTS,
        injected_from="410",
        retryable=False,
    ),
    FaultCase(
        "invalid cursor (one search)",
        (FaultRule("conversations.search", "invalid_cursor", first_n=1),),
        retryable=False,
    ),
    FaultCase(
        "invalid cursor (sub-windows)",
        (FaultRule("conversations.search", "invalid_cursor", first_n=2),),
        per_page=20,
        retryable=False,
    ),
    FaultCase(
        "mixed, random (5% 503, 3% drop, 3% malformed)",
        (
            FaultRule("*", "503", probability=0.05),
            FaultRule("*", "drop", probability=0.03),
            FaultRule("*", "malformed", probability=0.03),
        ),
        options=FULL,
        max_attempts=6,
    ),
)
CASES_BY_NAME = {case.name: case for case in CASES}


# -- running -------------------------------------------------------------------------------


@dataclass
class RunResult:
    root: Path
    window: Window
    metrics: EnrichmentMetrics
    manifest: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    quarantine: list[dict[str, Any]]
    seconds: float


def full_window(config: SandboxConfig) -> Window:
    assert config.window_end is not None
    return Window(config.window_start, config.window_end)


def run_pipeline(
    server: SandboxServer,
    root: Path,
    *,
    options: EnrichOptions = FULL,
    per_page: int = 50,
    max_attempts: int = 4,
    timeout_seconds: float = 5.0,
    tap: Tap | None = None,
    batch_size: int = 500,
) -> RunResult:
    """The production window pipeline (``extract.pipeline.run_pipeline``) without
    Prefect, on a fresh rate budget and, given a tap, through a rewriting transport."""
    window = full_window(server.world.config)
    settings = IntercomSettings(
        token=SecretStr(server.token),
        base_url=server.url,
        max_attempts=max_attempts,
        timeout_seconds=timeout_seconds,
    )
    job = WindowJob(window, str(root), batch_size, options)
    began = time.monotonic()
    with AsyncioExecutor(
        settings,
        per_page=per_page,
        budget=RateBudget(),
        transport=tap.transport if tap is not None else None,
    ) as executor:
        result = pipeline.run_pipeline(settings, job, executor, started=window.end)
    seconds = time.monotonic() - began
    manifest = json.loads((root / "_runs" / f"{window.key}.json").read_text())
    quarantine_file = root / quarantine_path(window)
    quarantine = (
        [json.loads(line) for line in quarantine_file.read_text().splitlines()]
        if quarantine_file.exists()
        else []
    )
    return RunResult(
        root, window, result.metrics, manifest, read_tables(root, job.tables), quarantine, seconds
    )


def read_tables(root: Path, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each table as rows without ``extracted_at``, read the way analysts read it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in tables:
        folder = root / table
        if not folder.exists():
            out[table] = []
            continue
        data = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
        out[table] = data.drop_columns(["extracted_at"]).to_pylist()
    return out


@dataclass
class Diff:
    lost: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def compare(
    reference: dict[str, list[dict[str, Any]]],
    output: dict[str, list[dict[str, Any]]],
    *,
    excused: frozenset[str] | set[str] = frozenset(),
) -> Diff:
    """Rows lost and rows wrong, table by table; ``excused`` conversation ids were quarantined."""
    diff = Diff()
    for table, key_cols in TABLE_KEYS.items():
        if table not in reference:
            continue
        ref = _keyed(reference[table], key_cols)
        got_rows = output.get(table, [])
        got = _keyed(got_rows, key_cols)
        if len(got) != len(got_rows):
            diff.wrong += [f"{table}: {len(got_rows) - len(got)} duplicate rows"] * (
                len(got_rows) - len(got)
            )
        for key, row in ref.items():
            if key not in got:
                if not (table != "contacts" and key[0] in excused):
                    diff.lost.append(f"{table} {key}")
            elif got[key] != row:
                changed = sorted(k for k in row if row[k] != got[key].get(k))
                diff.wrong.append(f"{table} {key}: {changed}")
        diff.wrong += [f"{table} {key}: not in the reference" for key in got if key not in ref]
    return diff


def _keyed(rows: list[dict[str, Any]], cols: tuple[str, ...]) -> dict[tuple[Any, ...], Any]:
    return {tuple(str(row[c]) for c in cols): row for row in rows}


def truth_problems(
    world: World, window: Window, tables: dict[str, list[dict[str, Any]]], options: EnrichOptions
) -> list[str]:
    """What the rows say that the sandbox's world says otherwise: the window's conversations,
    their contacts, status, primary contact's details and segments, and the contacts table."""
    problems = []
    lo, hi = int(window.start.timestamp()), int(window.end.timestamp())
    expected_ids = {world.conversation_id(i) for i in world.index_range(lo, hi)}
    conversations = tables["conversations"]
    got_ids = {r["conversation_id"] for r in conversations}
    if got_ids - expected_ids:
        problems.append(f"not in the window: {sorted(got_ids - expected_ids)[:5]}")

    def segments(j: int) -> list[str] | None:
        if not options.include_segments:
            return None
        return sorted(s["name"] for s in world.segments(j) if s.get("name"))

    for row in conversations:
        i = world.conversation_index(row["conversation_id"])
        if i is None:
            continue
        people = world.conversation_contacts(i)
        if row["contact_ids"] != [world.contact_id(j) for j in people]:
            problems.append(f"{row['conversation_id']}: contact_ids")
        expected: tuple[Any, ...] = ("no_contact", None, None)
        if people:
            primary = people[0]
            kind = world.contact_status(primary)
            source = world.canonical_contact(primary) if kind == "merged" else primary
            if kind == "deleted" or source is None:
                expected = ("contact_not_found", None, None)
            else:
                expected = ("enriched", world.contact(source)["email"], segments(source))
        got = (row["enrichment_status"], row["contact_email"], row["contact_segment_names"])
        if got != expected:
            problems.append(f"{row['conversation_id']}: {got} != {expected}")
    for row in tables["contacts"]:
        j = world.contact_index(row["contact_id"])
        if j is None or world.contact_status(j) not in ("active", "unsearchable"):
            problems.append(f"contact {row['contact_id']}: not a live contact")
            continue
        got = (row["email"], row["segment_names"])
        if got != (world.contact(j)["email"], segments(j)):
            problems.append(f"contact {row['contact_id']}: {got}")
    return problems


@dataclass
class Outcome:
    case: FaultCase
    injected: int
    retries: int
    diff: Diff
    truth: list[str]
    result: RunResult
    reference: RunResult
    snapshot: dict[str, Any]

    @property
    def rows_lost(self) -> int:
        return len(self.diff.lost)

    @property
    def rows_wrong(self) -> int:
        return len(self.diff.wrong) + len(self.truth)


class References:
    """Fault-free runs, one per world, options and page size, shared by the cases."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[str, RunResult] = {}

    @staticmethod
    def key(case: FaultCase) -> str:
        return json.dumps([case.world, repr(case.options), case.per_page], sort_keys=True)

    def prepare(self, cases: list[FaultCase], pool: ThreadPoolExecutor | None = None) -> None:
        """Run every reference the cases need (concurrently, given a pool)."""
        wanted = {self.key(c): c for c in cases if self.key(c) not in self._runs}
        jobs = [
            (case, self.root / f"reference-{len(self._runs) + k}")
            for k, case in enumerate(wanted.values())
        ]
        if pool is None:
            results = [self._run(*job) for job in jobs]
        else:
            results = [f.result() for f in [pool.submit(self._run, *job) for job in jobs]]
        self._runs.update(zip(wanted, results, strict=True))

    @staticmethod
    def _run(case: FaultCase, root: Path) -> RunResult:
        with SandboxServer(SandboxConfig(**case.world)) as server:
            return run_pipeline(server, root, options=case.options, per_page=case.per_page)

    def get(self, case: FaultCase) -> RunResult:
        if self.key(case) not in self._runs:
            self.prepare([case])
        return self._runs[self.key(case)]


def run_case(case: FaultCase, root: Path, references: References) -> Outcome:
    reference = references.get(case)
    config = SandboxConfig(**case.world, **case.sandbox, faults=case.faults)
    tap = case.tap() if case.tap is not None else None
    with SandboxServer(config) as server:
        result = run_pipeline(
            server,
            root / "faulty",
            options=case.options,
            per_page=case.per_page,
            max_attempts=case.max_attempts,
            timeout_seconds=case.timeout_seconds,
            tap=tap,
        )
        snapshot = server.stats.snapshot()
        world = server.world
    injected = {
        "faults": sum(snapshot["faults_injected"].values()),
        "404": snapshot["responses"].get(404, 0),
        "410": snapshot["responses"].get(410, 0),
        "tap": tap.changed if tap else 0,
        "duplicates": (tap.search_items - len(tap.search_ids)) if tap else 0,
    }[case.injected_from]
    excused = {str(q.get("id")) for q in result.quarantine if q.get("kind") == "conversation"}
    diff = compare(reference.tables, result.tables, excused=excused)
    truth = truth_problems(world, result.window, result.tables, case.options)
    return Outcome(
        case=case,
        injected=injected,
        retries=result.metrics.api_retries,
        diff=diff,
        truth=truth,
        result=result,
        reference=reference,
        snapshot=snapshot,
    )


def run_matrix(cases: Iterable[FaultCase], root: Path, *, parallel: bool) -> list[Outcome]:
    """Every case once. In parallel (threads) the wall time is about that of the slowest case,
    which matters because a 429 waits for the sandbox's 10-second window to roll over."""
    cases = list(cases)
    references = References(root / "references")
    if not parallel:
        references.prepare(cases)
        return [run_case(case, root / f"case-{k}", references) for k, case in enumerate(cases)]
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        references.prepare(cases, pool)
        futures = [
            pool.submit(run_case, case, root / f"case-{k}", references)
            for k, case in enumerate(cases)
        ]
        return [f.result() for f in futures]


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp:
        yield Path(tmp)


def table_markdown(outcomes: list[Outcome]) -> str:
    lines = [
        "| case | injected | retries | rows lost | rows wrong |",
        "|---|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.case.name} | {o.injected} | {o.retries} | {o.rows_lost} | {o.rows_wrong} |"
        )
    return "\n".join(lines)
