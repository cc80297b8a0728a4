"""Listing returns every conversation of [start, end) exactly once, whatever the server's habits."""

import asyncio
import json
import pickle
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.batching import distinct_contact_ids, plan_batches
from intercom_enrichment.extract.listing import Listing, list_window
from intercom_enrichment.objects.conversations import CONVERSATION, Conversation
from intercom_enrichment.windows import Window

from .fake_intercom import FakeIntercom, conversation

START, END = 1_790_000_000, 1_790_003_600
WINDOW = Window(datetime.fromtimestamp(START, UTC), datetime.fromtimestamp(END, UTC))


def world() -> list[dict]:
    """Conversations around, on and inside the window's edges, many sharing a timestamp."""
    stamps = [
        START - 2,
        START - 1,
        START,
        START,
        START + 1,
        *range(START + 5, END - 5, 7),
        END - 1,
        END - 1,
        END,
        END + 1,
    ]
    return [conversation(1000 + i, ts, [f"c{i % 13}"]) for i, ts in enumerate(stamps)]


def expected_ids(convs: list[dict]) -> list[str]:
    return sorted((c["id"] for c in convs if START <= c["updated_at"] < END), key=int)


def list_with(fake: FakeIntercom, **kw: object) -> Listing:
    async def main() -> Listing:
        s = IntercomSettings(token=SecretStr(fake.token), base_url="https://api.intercom.io")
        async with IntercomClient(s, budget=RateBudget(), transport=fake.transport()) as client:
            return await list_window(client, CONVERSATION, WINDOW, **kw)  # type: ignore[arg-type]

    return asyncio.run(main())


@pytest.mark.parametrize("boundary", ["strict", "inclusive"])
@pytest.mark.parametrize("order", ["ascending", "descending", "scrambled"])
@pytest.mark.parametrize("parallel", [1, 8])
def test_exactly_the_window_exactly_once(boundary: str, order: str, parallel: int) -> None:
    convs = world()
    fake = FakeIntercom(convs, boundary=boundary, order=order)
    listing = list_with(fake, per_page=20, max_parallel=parallel, pages_per_subwindow=2)
    ids = [c.id for c in listing.records]
    assert ids == expected_ids(convs)
    assert "1002" in ids and "1003" in ids  # stamped exactly on start: in
    assert not any(c.updated_at >= END for c in listing.records)  # on end: out
    assert listing.quarantine == []


def test_duplicates_across_pages_are_removed() -> None:
    convs = world()
    fake = FakeIntercom(convs, order="descending", duplicate_across_pages=True)
    listing = list_with(fake, per_page=10, max_parallel=1)
    assert [c.id for c in listing.records] == expected_ids(convs)


def test_sub_windows_page_concurrently_and_lose_nothing() -> None:
    convs = world()
    sequential = list_with(FakeIntercom(convs, boundary="inclusive"), per_page=10, max_parallel=1)
    fake = FakeIntercom(convs, boundary="inclusive")
    parallel = list_with(fake, per_page=10, max_parallel=6, pages_per_subwindow=1)
    assert parallel.records == sequential.records
    assert len(fake.requests) >= 7  # first page, then six sub-window searches


def test_a_search_that_gives_no_total_count_is_paged_concurrently_all_the_same() -> None:
    """Without ``total_count`` the listing cannot size the window: it splits it anyway, rather
    than fetch every page one after another (issue 22's 138 sequential pages)."""
    convs = world()
    fake = FakeIntercom(convs, boundary="inclusive", total_count=False)
    listing = list_with(fake, per_page=10, max_parallel=6)
    assert [c.id for c in listing.records] == expected_ids(convs)
    first_pages = [s for s in fake.searches if "starting_after" not in s["pagination"]]
    assert len(first_pages) == 1 + 6  # the window's first page, then six sub-windows


def test_invalid_items_are_quarantined_with_their_reason() -> None:
    convs = world()
    broken = conversation(99, START + 10, [])
    broken["created_at"] = "yesterday"
    fake = FakeIntercom([*convs, broken], order="ascending")
    listing = list_with(fake, per_page=500)
    assert [q["id"] for q in listing.quarantine] == ["99"]
    assert "created_at" in listing.quarantine[0]["reason"]
    assert [c.id for c in listing.records] == expected_ids(convs)


def _conv(i: int, contacts: list[str]) -> Conversation:
    return Conversation.model_validate(conversation(i, START + i, contacts))


def test_batches_own_whole_contact_chunks_and_every_conversation_once() -> None:
    convs = [_conv(i, [f"p{i % 400}", f"s{i % 7}"] if i % 10 else []) for i in range(3000)]
    batches = plan_batches(convs, batch_size=500)
    ids = distinct_contact_ids([c.contact_ids for c in convs])
    assert sorted(c.id for b in batches for c in b.records) == sorted(c.id for c in convs)
    fetched = [cid for b in batches for cid in b.contact_ids]
    assert sorted(fetched) == sorted(ids)  # each contact looked up by exactly one batch
    owners = [b for b in batches if not b.continuation]
    assert all(len(b.contact_ids) % 150 == 0 for b in owners[:-1])  # bulk calls stay full
    for b in owners:  # a batch looks up the primary contact of each of its conversations
        assert {c.contact_ids[0] for c in b.records if c.contact_ids} <= set(b.contact_ids)


def test_a_very_active_contact_does_not_make_a_batch_grow_with_the_window() -> None:
    """One contact with 1,200 conversations, batches of 500: its conversations are spread over
    continuation batches (after every owner) that reuse the owner's lookup of that contact."""
    convs = [_conv(i, ["whale"] if i % 3 else [f"p{i}"]) for i in range(1800)]
    batches = plan_batches(convs, batch_size=500)
    assert max(len(b.records) for b in batches) <= 500
    assert sorted(c.id for b in batches for c in b.records) == sorted(c.id for c in convs)
    fetched = [cid for b in batches for cid in b.contact_ids]
    assert sorted(fetched) == sorted(distinct_contact_ids([c.contact_ids for c in convs]))
    continuations = [b for b in batches if b.continuation]
    first = batches.index(continuations[0])
    assert continuations and all(b.continuation for b in batches[first:])  # owners come first
    owner = next(b for b in batches if "whale" in b.contact_ids)
    assert owner.carry == ["whale"] and not owner.continuation
    for b in continuations:
        assert b.contact_ids == [] and b.carried_ids == ["whale"]
        assert {c.contact_ids[0] for c in b.records} == {"whale"}


def test_the_spill_gives_back_what_the_listing_validated_without_checking_it_twice() -> None:
    """The spill keeps each record's checked JSON text: reading it back gives the record the
    listing validated, field for field (Unicode, extreme numbers, free-form attributes), and
    does not run the whole-record check a second time."""
    from intercom_enrichment.extract.spill import RecordSpill
    from intercom_enrichment.objects import common
    from intercom_enrichment.quality.guards import writable_json

    raw = conversation(1, START + 1, ["p1", "p2"])
    raw["custom_attributes"] = {
        "emoji": "😀 é \u2028",
        "big": 2**63 - 1,
        "small": -(2**63),
        "float": 1.2345678901234567e300,
        "nested": {"a": [1, {"b": None, "c": -0.0}]},
    }
    reason, text = writable_json(raw)
    assert reason is None
    spill = RecordSpill(Conversation)
    calls: list[object] = []
    original = common.unwritable_reason
    try:
        location = spill.add(text)
        common.unwritable_reason = lambda record: calls.append(record)  # type: ignore[assignment,func-returns-value,return-value]
        read = spill.read(*location)
    finally:
        common.unwritable_reason = original
        spill.close()
    assert read == Conversation.model_validate(raw)
    assert read.model_dump() == Conversation.model_validate(raw).model_dump()
    assert calls == []


def test_a_spilled_batch_reads_its_conversations_only_when_reached() -> None:
    """Batches wait on the API holding ids only; their conversations are read from the spill
    one at a time, from any thread, and a batch shipped to another process carries them."""
    from concurrent.futures import ThreadPoolExecutor

    from intercom_enrichment.extract.batching import plan_positions
    from intercom_enrichment.extract.spill import (
        ListedEntries,
        RecordSpill,
        SpilledBatches,
    )

    spill = RecordSpill(Conversation)
    raws = [conversation(i, START + i, [f"p{i % 40}"]) for i in range(600)]
    convs = [Conversation.model_validate(raw) for raw in raws]
    listed = ListedEntries()
    for c, raw in zip(convs, raws, strict=True):
        listed.add(c.id, c.updated_at, c.contact_ids, spill.add(json.dumps(raw).encode()))
    batches = SpilledBatches(
        plan_positions(listed.contacts, batch_size=200), [(CONVERSATION, spill, listed)]
    )
    try:
        batch = batches[0]
        reads: list[str] = []
        original = spill.read

        def counted(offset: int, size: int) -> Conversation:
            conversation = original(offset, size)
            reads.append(conversation.id)
            return conversation

        spill.read = counted  # type: ignore[method-assign]
        assert batch.record_ids and not reads  # the parts fetch needs no reading
        (obj, group), *others = batch.groups
        assert obj is CONVERSATION and not others
        first = next(iter(group))
        assert reads == [first.id]  # one conversation read, not the batch
        spill.read = original  # type: ignore[method-assign]
        with ThreadPoolExecutor(4) as pool:  # tasks read concurrently from threads
            read = list(pool.map(lambda b: [c.id for c in b.records], batches))
        assert [i for b in read for i in b] == [i for b in batches for i in b.record_ids]
        assert sorted(i for b in read for i in b) == sorted(c.id for c in convs)
        shipped = pickle.loads(pickle.dumps(group))
        assert type(shipped) is list and shipped == list(group)
    finally:
        spill.close()


def test_the_listed_columns_keep_the_latest_version_and_sort_numeric_ids_numerically() -> None:
    """De-duplication and ordering on the columnar listing: of an id's versions the latest
    is kept (its contacts too; of equal ones, the first listed), ids sort as numbers."""
    from intercom_enrichment.extract.spill import ListedEntries, ListedEntry

    listed = ListedEntries()
    listed.add("10", 5, ["a", "b"], (0, 1))
    listed.add("9", 7, [], (1, 1))
    listed.add("10", 6, ["c"], (2, 3))
    listed.add("9", 7, ["d"], (5, 1))  # the same version again: the first one listed stays
    listed.add("10", 4, ["e"], (6, 1))  # older
    listed.add("é1", 1, ["a"], (7, 1))
    assert len(listed) == 6
    final = listed.sorted_by_id()
    assert list(final) == [
        ListedEntry("9", 7, (), 1, 1),
        ListedEntry("10", 6, ("c",), 2, 3),
        ListedEntry("é1", 1, ("a",), 7, 1),
    ]
    assert list(final.contacts) == [(), ("c",), ("a",)] and final[-1].id == "é1"
    assert final.ids([1, 0]) == ["10", "9"] and final.location(1) == (2, 3)
    assert len(ListedEntries().sorted_by_id()) == 0
    with pytest.raises(RuntimeError):
        final.add("12", 1, [], (5, 1))
