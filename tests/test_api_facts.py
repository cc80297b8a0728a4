"""The documented API behaviours of issue 10, against the independent fake (tests/fake_intercom.py):
merged contacts by version, 408/409 retried, the documented cursor error, an IN limit, contact
tag references resolved by the tag snapshot, has_more lists fetched, parts truncation."""

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from intercom_enrichment import errors
from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.contact_search import ChunkSizer
from intercom_enrichment.api.settings import DEFAULT_API_VERSION, IntercomSettings
from intercom_enrichment.extract.batching import Batch
from intercom_enrichment.extract.enrich import EnrichOptions, enrich_batch
from intercom_enrichment.extract.listing import list_window
from intercom_enrichment.extract.lookup import lookup_contacts
from intercom_enrichment.objects.common import Lineage
from intercom_enrichment.objects.conversations import CONVERSATION, Conversation, parts_incomplete
from intercom_enrichment.windows import Window

from .fake_intercom import FakeIntercom, contact, conversation, error

TOKEN = "tok-facts"
WINDOW = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def _run(fake: FakeIntercom, fn: Any, **settings: Any) -> tuple[Any, IntercomClient]:
    async def main() -> tuple[Any, IntercomClient]:
        config = IntercomSettings(
            token=SecretStr(TOKEN), base_url="https://api.intercom.io", **settings
        )
        async with IntercomClient(config, budget=RateBudget(), transport=fake.transport()) as c:
            return await fn(c), c

    return asyncio.run(main())


def test_default_version_is_2_16_and_every_published_version_is_accepted() -> None:
    assert DEFAULT_API_VERSION == "2.16"
    for version in ("1.0", "1.4", "2.0", "2.15", "2.17", "Preview"):
        assert IntercomSettings(token=SecretStr("t"), api_version=version).api_version == version
    for version in ("2.18", "1.5", "preview", "3.0"):
        with pytest.raises(ValueError):
            IntercomSettings(token=SecretStr("t"), api_version=version)


@pytest.mark.parametrize(("status", "code"), [(408, "request_timeout"), (409, "conflict")])
def test_408_and_409_are_retried(status: int, code: str) -> None:
    fake = FakeIntercom([], contacts={"c1": contact("c1")}, token=TOKEN)
    fake.fail_next = [error(status, code, "try again"), error(status, code, "try again")]
    body, client = _run(fake, lambda c: c.get_contact("c1"))
    assert body["id"] == "c1" and client.stats.retries == 2
    assert client.stats.requests["contacts.get"] == 3


def test_the_documented_cursor_error_maps_to_invalid_cursor(examples: dict[str, Any]) -> None:
    fake = FakeIntercom([], token=TOKEN)
    fake.fail_next = [error(400, "client_error", "Invalid starting_after param")]
    with pytest.raises(errors.InvalidCursor):
        _run(fake, lambda c: c.get_contact("c1"))
    fake.fail_next = [error(400, "parameter_invalid", "bad")]
    with pytest.raises(errors.BadRequest) as info:
        _run(fake, lambda c: c.get_contact("c1"))
    assert not isinstance(info.value, errors.InvalidCursor)


@pytest.mark.parametrize("rejections", [1, 2])
def test_a_rejected_cursor_mid_listing_still_lists_every_conversation_once(
    rejections: int,
) -> None:
    start = int(WINDOW.start.timestamp())
    convs = [conversation(i, start + i * 100, []) for i in range(400)]
    fake = FakeIntercom(convs, token=TOKEN, reject_cursors=rejections)
    listing, _ = _run(
        fake, lambda c: list_window(c, CONVERSATION, WINDOW, per_page=50, max_parallel=1)
    )
    assert [c.id for c in listing.records] == [str(i) for i in range(400)]
    assert listing.cursor_restarts == rejections and fake.reject_cursors == 0


def _merge_fake() -> FakeIntercom:
    return FakeIntercom(
        [],
        contacts={"canon": contact("canon"), "plain": contact("plain")},
        merged={"old": "canon"},
        unsearchable={"canon"},
        token=TOKEN,
    )


def test_merged_contacts_are_followed_on_the_default_version_only() -> None:
    found, _ = _run(_merge_fake(), lambda c: lookup_contacts(c, ["old", "plain"]))
    assert found.found["old"].id == "canon" and not found.not_found
    old, _ = _run(_merge_fake(), lambda c: lookup_contacts(c, ["old", "plain"]), api_version="2.14")
    assert "old" not in old.found and old.not_found == {"old"}  # 404: nothing says where


def test_an_in_limit_is_found_by_halving_and_kept_for_the_run() -> None:
    ids = [f"c{i:04d}" for i in range(600)]
    fake = FakeIntercom([], contacts={i: contact(i) for i in ids}, in_limit=15, token=TOKEN)
    sizer = ChunkSizer()

    async def twice(c: IntercomClient) -> Any:
        first = await lookup_contacts(c, ids[:300], sizer=sizer)
        second = await lookup_contacts(c, ids[300:], sizer=sizer)
        return first, second

    (first, second), client = _run(fake, twice)
    assert len(first.found) + len(second.found) == 600
    searches = client.stats.requests["contacts.search"]
    assert searches <= 1.25 * math.ceil(600 / 15)
    assert client.stats.requests["contacts.get"] == 0  # never one GET each
    assert sizer.size() == 15 and first.search_chunk_size == 15
    assert first.search_requests_refused >= 4 and second.search_requests_refused == 0


def test_a_search_refused_at_every_size_falls_back_to_single_gets() -> None:
    ids = [f"c{i}" for i in range(12)]
    fake = FakeIntercom([], contacts={i: contact(i) for i in ids}, in_limit=0, token=TOKEN)
    result, client = _run(fake, lambda c: lookup_contacts(c, ids, sizer=ChunkSizer()))
    assert len(result.found) == 12
    assert client.stats.requests["contacts.search"] <= 3  # 12 → 6 → floor 5, then give up


def _tagged(cid: str, tags: list[str], more: bool, companies: list[str]) -> dict[str, Any]:
    refs = [{"type": "tag", "id": t, "url": f"/tags/{t}"} for t in tags]
    cos = [{"type": "company", "id": c, "url": f"/companies/{c}"} for c in companies]
    return {
        **contact(cid),
        "tags": {"type": "list", "data": refs, "has_more": more, "total_count": 12 if more else 1},
        "companies": {"type": "list", "data": cos, "has_more": more, "total_count": len(cos)},
    }


def test_tag_names_come_from_the_snapshot_and_cut_lists_are_fetched() -> None:
    ten = [f"t{k}" for k in range(10)]
    fake = FakeIntercom(
        [],
        contacts={
            "few": _tagged("few", ["t0"], False, ["co1"]),
            "many": _tagged("many", ten, True, ["co1", "co2"]),
        },
        contact_tags={"many": [{"type": "tag", "id": f"t{k}", "name": f"T{k}"} for k in range(12)]},
        contact_companies={"many": [{"type": "company", "id": f"co{k}"} for k in range(5)]},
        token=TOKEN,
    )
    conv = Conversation.model_validate(conversation(1, 1_790_000_000, ["few", "many"]))
    batch = Batch(0, [(CONVERSATION, [conv])], conv.contact_ids)
    options = EnrichOptions(tag_names={f"t{k}": f"Tag {k}" for k in range(12)})
    lineage = Lineage(WINDOW, datetime.now(UTC))
    (records, metrics), client = _run(
        fake, lambda c: enrich_batch(c, batch, lineage=lineage, options=options)
    )
    rows = {r["contact_id"]: r for r in records.rows["contacts"]}
    assert rows["few"]["tag_names"] == ["Tag 0"] and rows["few"]["tags_truncated"] is False
    assert rows["many"]["tag_names"] == [f"Tag {k}" for k in range(12)]
    assert rows["many"]["company_ids"] == [f"co{k}" for k in range(5)]  # three pages of two
    assert not rows["many"]["tags_truncated"] and not rows["many"]["companies_truncated"]
    assert client.stats.requests["contacts.tags"] == 1
    assert client.stats.requests["contacts.companies"] == 3
    assert metrics.contact_lists_truncated == 0


def test_a_list_that_cannot_be_fetched_is_flagged_not_silently_cut() -> None:
    fake = FakeIntercom(
        [], contacts={"many": _tagged("many", ["t1"], True, ["co1"])}, token=TOKEN
    )  # no full lists: GET /contacts/many/tags and /companies answer 404
    conv = Conversation.model_validate(conversation(1, 1_790_000_000, ["many"]))
    lineage = Lineage(WINDOW, datetime.now(UTC))
    (records, metrics), _ = _run(
        fake,
        lambda c: enrich_batch(
            c,
            Batch(0, [(CONVERSATION, [conv])], ["many"]),
            lineage=lineage,
            options=EnrichOptions(),
        ),
    )
    row = records.rows["contacts"][0]
    assert row["tags_truncated"] is True and row["tag_ids"] == ["t1"]
    assert row["companies_truncated"] is True and row["company_ids"] == ["co1"]
    assert row["tag_names"] == []  # no snapshot name, and the reference carries none
    assert metrics.contact_lists_truncated == 1


@pytest.mark.parametrize(
    ("key", "complete"), [("companies", True), ("data", True), ("results", False)]
)
def test_a_contact_s_companies_are_read_under_either_documented_key(
    key: str, complete: bool
) -> None:
    """The schema names the list ``companies``, the example ``data`` (Intercom-OpenAPI
    descriptions/2.16 lines 25473 and 7065): both are read; under neither, the list is flagged
    cut, never read as complete and empty."""
    twelve = [{"type": "company", "id": f"co{k}"} for k in range(12)]
    fake = FakeIntercom(
        [],
        contacts={"many": _tagged("many", ["t1"], True, [f"co{k}" for k in range(10)])},
        contact_companies={"many": twelve},
        company_list_key=key,
        token=TOKEN,
    )
    conv = Conversation.model_validate(conversation(1, 1_790_000_000, ["many"]))
    lineage = Lineage(WINDOW, datetime.now(UTC))
    (records, _), _ = _run(
        fake,
        lambda c: enrich_batch(
            c,
            Batch(0, [(CONVERSATION, [conv])], ["many"]),
            lineage=lineage,
            options=EnrichOptions(),
        ),
        max_attempts=1,
    )
    row = records.rows["contacts"][0]
    assert row["companies_truncated"] is not complete
    assert len(row["company_ids"]) == (12 if complete else 10)


def test_a_page_without_its_list_is_an_error_not_an_empty_page() -> None:
    fake = FakeIntercom([], token=TOKEN)
    fake.fail_next = [
        httpx.Response(200, json={"type": "conversation.list", "total_count": 0, "pages": {}})
    ]
    with pytest.raises(errors.MalformedResponse, match="no list under 'conversations'"):
        _run(fake, lambda c: list_window(c, CONVERSATION, WINDOW), max_attempts=1)


def test_parts_truncation_by_either_count_or_exactly_500() -> None:
    assert parts_incomplete(3, 3, 3) is False
    assert parts_incomplete(3, None, 5) is True  # statistics.count_conversation_parts says more
    assert parts_incomplete(3, 7, None) is True  # total_count says more
    assert parts_incomplete(3, 3, 9) is True  # the two counts disagree: trust the larger
    assert parts_incomplete(500, 500, 500) is True  # the API's cap: cannot tell, so flagged
    assert parts_incomplete(0, None, None) is False


def _with_parts(cid: int, returned: int, total: int | None, stats: int | None) -> dict[str, Any]:
    body = conversation(cid, 1_790_000_000, [])
    parts = [{"type": "conversation_part", "id": f"{cid}-{k}"} for k in range(returned)]
    body["conversation_parts"] = {"conversation_parts": parts, "total_count": total}
    body["statistics"] = {"count_conversation_parts": stats}
    return body


def test_truncated_parts_are_flagged_and_counted() -> None:
    cases = {"1": (3, 3, 3), "2": (3, 3, 8), "3": (3, 8, None), "4": (500, 500, 500)}
    fake = FakeIntercom(
        [],
        full_conversations={k: _with_parts(int(k), *v) for k, v in cases.items()},
        token=TOKEN,
    )
    convs = [Conversation.model_validate(conversation(int(k), 1_790_000_000, [])) for k in cases]
    lineage = Lineage(WINDOW, datetime.now(UTC))
    (records, metrics), _ = _run(
        fake,
        lambda c: enrich_batch(
            c,
            Batch(0, [(CONVERSATION, convs)], []),
            lineage=lineage,
            options=EnrichOptions(include_parts=True),
        ),
    )
    flags = {r["conversation_id"]: r["parts_truncated"] for r in records.rows["conversations"]}
    assert flags == {"1": False, "2": True, "3": True, "4": True}
    assert metrics.count("parts_incomplete") == 3


def test_concurrent_lookups_share_one_probe_per_app() -> None:
    ids = [f"c{i:04d}" for i in range(600)]
    fake = FakeIntercom([], contacts={i: contact(i) for i in ids}, in_limit=15, token=TOKEN)
    sizer = ChunkSizer()

    async def four(c: IntercomClient) -> Any:
        quarters = [ids[k : k + 150] for k in range(0, 600, 150)]
        return await asyncio.gather(*(lookup_contacts(c, q, sizer=sizer) for q in quarters))

    results, client = _run(fake, four)
    assert sum(len(r.found) for r in results) == 600
    refused = sum(r.search_requests_refused for r in results)
    assert refused == 5  # 150, 75, 37, 18 and 16 refused once, not once per lookup
    assert client.stats.requests["contacts.search"] <= 1.25 * math.ceil(600 / 15)
