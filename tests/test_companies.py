"""Companies: every company the window's contacts reference, read once (by id, or picked out of
the workspace's list when that takes fewer requests; requests ≤ 1.1 × the companies
referenced), a company that answers 404 counted and never invented, every
referenced company once in ``current/companies``, and ``company_daily`` attributing each
conversation to each company of its primary contact."""

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import AsyncioExecutor, WindowJob, run_pipeline
from intercom_enrichment.marts import refresh
from intercom_enrichment.objects.companies import LIST_LIMIT, LIST_WORTH
from intercom_enrichment.windows import Window

from .fake_intercom import FakeIntercom, company, contact, conversation

WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def table(root: Path, name: str) -> list[dict[str, Any]]:
    return ds.dataset(root / name, format="parquet", partitioning="hive").to_table().to_pylist()


def run(settings: IntercomSettings, out: Path, transport: Any = None) -> Any:
    factory = (lambda: transport) if transport is not None else None
    with AsyncioExecutor(settings, budget=RateBudget(), transport=factory) as executor:
        job = WindowJob(WINDOW, str(out), 100, EnrichOptions())
        return run_pipeline(settings, job, executor)


def test_every_referenced_company_once(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=500, contacts=150, tickets=60, many_tags_share=0.2)
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    result = run(settings, tmp_path)
    assert result.incomplete is None
    referenced = {c for row in table(tmp_path, "contacts") for c in row["company_ids"] or []}
    rows = table(tmp_path, "companies")
    assert sorted(r["company_id"] for r in rows) == sorted(referenced)  # each once
    by_endpoint = result.metrics.requests_by_endpoint
    requests = by_endpoint.get("companies.get", 0) + by_endpoint.get("companies.list", 0)
    assert requests <= 1.1 * len(referenced)
    assert (
        result.metrics.companies_referenced == len(referenced) == result.metrics.companies_fetched
    )
    world = server.world
    some = rows[0]
    truth = world.companies.company(world.companies.index(some["company_id"]), "2.16")
    assert (some["name"], some["company_external_id"], some["industry"]) == (
        truth["name"],
        truth["company_id"],
        truth["industry"],
    )
    refresh(str(tmp_path))
    current = pq.read_table(tmp_path / "current" / "companies.parquet").to_pylist()
    assert sorted(r["company_id"] for r in current) == sorted(referenced)
    # company_daily: each conversation counted for each company of its primary contact
    conversations = [
        r for r in table(tmp_path / "current", "conversations") if r["contact_company_ids"]
    ]
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for r in conversations:
        for company_id in set(r["contact_company_ids"]):
            expected[(str(r["created_at"].date()), company_id)] += 1
    daily = pq.read_table(tmp_path / "marts" / "company_daily.parquet").to_pylist()
    assert {(str(d["day"]), d["company_id"]): d["conversations"] for d in daily} == expected
    names = {r["company_id"]: r["name"] for r in current}
    assert all(d["company_name"] == names[d["company_id"]] for d in daily)


def test_a_company_that_answers_404_is_counted_never_invented(tmp_path: Path) -> None:
    start = int(WINDOW.start.timestamp())
    person = contact("c1")
    person["companies"] = {
        "type": "list",
        "data": [{"type": "company", "id": "co1"}, {"type": "company", "id": "gone"}],
        "has_more": False,
        "total_count": 2,
    }
    fake = FakeIntercom(
        [conversation(1, start + 60, ["c1"])],
        contacts={"c1": person},
        companies={"co1": company("co1", name="Acme")},
    )
    settings = IntercomSettings(token=SecretStr(fake.token), base_url="http://fake.test")
    result = run(settings, tmp_path, fake.transport())
    assert result.incomplete is None
    assert result.metrics.companies_not_found == 1 and result.metrics.companies_fetched == 1
    assert [r["company_id"] for r in table(tmp_path, "companies")] == ["co1"]
    assert fake.requests.count("GET /companies/co1") == 1


def test_companies_that_become_unavailable_part_way_keep_the_earlier_files_whole(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A 403 to some company GETs: none of this run's company rows are written; the window's
    earlier companies file stays, listed once in the manifest, and current/ has each company
    once."""
    from intercom_enrichment.output.storage import Storage
    from intercom_enrichment.output.writer import read_manifest
    from intercom_enrichment.sandbox import FaultRule

    world = {"conversations": 300, "contacts": 100, "tickets": 0}
    first = sandbox(**world)
    settings = IntercomSettings(token=SecretStr(first.token), base_url=first.url)
    assert run(settings, tmp_path).incomplete is None
    before = read_manifest(Storage(str(tmp_path)), WINDOW)
    assert before is not None
    companies_before = [f for f in before["files"] if f["table"] == "companies"]
    faults = (  # the list refused too, or it would bring every company without a GET
        FaultRule("companies.list", "403", probability=1.0),
        FaultRule("companies.get", "403", probability=0.3),
    )
    blocked = sandbox(**world, faults=faults)
    settings = IntercomSettings(token=SecretStr(blocked.token), base_url=blocked.url)
    result = run(settings, tmp_path)
    assert result.incomplete is None and result.metrics.unavailable
    after = read_manifest(Storage(str(tmp_path)), WINDOW)
    assert after is not None
    assert [f for f in after["files"] if f["table"] == "companies"] == companies_before
    rows = table(tmp_path, "companies")
    assert len(rows) == companies_before[0]["rows"] == len({r["company_id"] for r in rows})
    refresh(str(tmp_path))
    current = pq.read_table(tmp_path / "current" / "companies.parquet").to_pylist()
    assert len(current) == len({r["company_id"] for r in current}) == len(rows)


def _without_lineage(root: Path) -> list[dict[str, Any]]:
    rows = [
        {k: v for k, v in r.items() if k not in ("window_start", "window_end", "extracted_at")}
        for r in table(root, "companies")
    ]
    return sorted(rows, key=lambda r: str(r["company_id"]))


def test_the_list_brings_what_by_id_would_in_fewer_requests(  # type: ignore[no-untyped-def]
    sandbox, tmp_path: Path
) -> None:
    """``POST /companies/list`` picks the same rows out of the workspace as one GET per id, in
    far fewer requests; a list refused (403) or failing part-way (500s) costs nothing but
    requests: the companies it does not bring are read by id."""
    from intercom_enrichment.sandbox import FaultRule

    world = {"conversations": 500, "contacts": 150, "tickets": 0, "companies": 200}
    runs = {
        "listed": (),
        "refused": (FaultRule("companies.list", "403", probability=1.0),),
        "flaky": (FaultRule("companies.list", "500", probability=0.4),),
    }
    results, rows = {}, {}
    for name, faults in runs.items():
        server = sandbox(**world, faults=faults)
        settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
        results[name] = run(settings, tmp_path / name)
        assert results[name].incomplete is None
        rows[name] = _without_lineage(tmp_path / name)
    referenced = results["listed"].metrics.companies_referenced
    assert referenced > 100 and len(rows["listed"]) == referenced
    assert rows["listed"] == rows["refused"] == rows["flaky"]
    listed = results["listed"].metrics.requests_by_endpoint
    assert listed["companies.list"] >= 2 and "companies.get" not in listed
    assert listed["companies.list"] < referenced / 4
    assert results["refused"].metrics.requests_by_endpoint["companies.get"] == referenced


def _one_contact_naming_companies(n: int) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Ids, companies by id, and FakeIntercom's arguments for one conversation whose contact
    names ``n`` companies, every one of which GET /companies/{id} serves."""
    ids = [f"co{k:02d}" for k in range(n)]
    person = contact("c1")
    person["companies"] = {
        "type": "list",
        "data": [{"type": "company", "id": i} for i in ids],
        "has_more": False,
        "total_count": len(ids),
    }
    everyone = {i: company(i) for i in ids}
    start = int(WINDOW.start.timestamp())
    world = {
        "conversations": [conversation(1, start + 60, ["c1"])],
        "contacts": {"c1": person},
        "companies": everyone,
    }
    return ids, everyone, world


def test_what_the_list_leaves_out_or_garbles_is_read_by_id(tmp_path: Path) -> None:
    """A list that misses a wanted company, garbles one (a record that does not validate),
    repeats one across pages and holds items that are no company (an id that is a list or an
    object, a string): the two are read by id, every company is written once."""
    ids, everyone, world = _one_contact_naming_companies(LIST_WORTH + 5)
    garbled = {**everyone["co01"], "created_at": "yesterday"}
    odd = [{"type": "company", "id": ["co02"]}, {"id": {}}, "not an object"]
    shown = [everyone["co00"], garbled, *(everyone[i] for i in ids[3:]), everyone["co05"], *odd]
    fake = FakeIntercom(
        **world,
        company_list=shown,  # co02 left out, co01 garbled, co05 twice, odd items
        company_list_per_page=10,
    )
    settings = IntercomSettings(token=SecretStr(fake.token), base_url="http://fake.test")
    result = run(settings, tmp_path, fake.transport())
    assert result.incomplete is None
    assert sorted(r["company_id"] for r in table(tmp_path, "companies")) == ids
    gets = sorted(r for r in fake.requests if r.startswith("GET /companies/"))
    assert gets == ["GET /companies/co01", "GET /companies/co02"]
    assert fake.requests.count("POST /companies/list") == 3


def test_a_workspace_over_the_lists_reach_is_read_by_id(tmp_path: Path) -> None:
    """Over 10,000 companies the list cannot show them all: after its first page, by id."""
    ids, everyone, world = _one_contact_naming_companies(LIST_WORTH + 5)
    fake = FakeIntercom(
        **world,
        company_list=list(everyone.values()),
        company_list_total=LIST_LIMIT + 1,
    )
    settings = IntercomSettings(token=SecretStr(fake.token), base_url="http://fake.test")
    result = run(settings, tmp_path, fake.transport())
    assert result.incomplete is None
    assert sorted(r["company_id"] for r in table(tmp_path, "companies")) == ids
    assert fake.requests.count("POST /companies/list") == 1
    assert sum(r.startswith("GET /companies/") for r in fake.requests) == len(ids) - 3


def test_companies_unavailable_at_a_later_step_leave_the_earlier_files_whole(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Each step's rows are written as it answers; a later step that finds companies
    unavailable drops what this run staged of them, so the window keeps its earlier file."""
    from datetime import timedelta

    from intercom_enrichment.extract import pipeline
    from intercom_enrichment.metrics import EnrichmentMetrics
    from intercom_enrichment.objects.common import Lineage
    from intercom_enrichment.objects.companies import COMPANIES, Company, company_row
    from intercom_enrichment.output.storage import Storage
    from intercom_enrichment.output.writer import BatchRecords, WindowWriter
    from intercom_enrichment.quality.pii import PiiPolicy

    lineage = Lineage(WINDOW, WINDOW.end + timedelta(hours=1))

    def rows(*ids: str) -> BatchRecords:
        made = [company_row(Company.model_validate(company(i)), lineage) for i in ids]
        return BatchRecords(rows={COMPANIES.name: made})

    class Executor:
        def companies(self, ids: Any, lineage: Any, pii: Any) -> Any:
            if ids == ["co2"]:
                return BatchRecords(), EnrichmentMetrics(unavailable={"companies: 403": 1})
            found = rows(*ids)
            found.quarantine.append({"kind": "company", "id": "bad", "reasons": "name: …"})
            return found, EnrichmentMetrics()

    storage = Storage(str(tmp_path))
    earlier = WindowWriter(storage, WINDOW, [COMPANIES.name])
    earlier.append(rows("co0"))
    earlier.publish({})
    monkeypatch.setattr(pipeline, "COMPANIES_PER_STEP", 1)
    writer = WindowWriter(storage, WINDOW, [COMPANIES.name])
    parts: list[EnrichmentMetrics] = []
    ids = ["co1", "co2"]
    keep = pipeline._companies(Executor(), ids, lineage, PiiPolicy(), writer, parts)  # type: ignore[arg-type]
    assert keep == {COMPANIES.name} and len(parts) == 2
    writer.publish({}, keep=keep)
    assert [r["company_id"] for r in table(tmp_path, "companies")] == ["co0"]
    assert not list(tmp_path.rglob("*quarantine*"))  # nothing of the dropped steps either
