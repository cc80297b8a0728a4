"""One record never poisons a window: the plain pipeline (``pipeline.run_window``) against the
sandbox behind a rewriting proxy (a real server on loopback) that plants one bad value in one
record. Each time the window still completes: the bad record is quarantined with its reason, or
— for a contact that can never be resolved — its conversations say ``contact_unresolvable``;
every other conversation is written; the manifest says ``completed``; the counts add up."""

import json
import math
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
from pydantic import SecretStr

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import WindowJob, run_window
from intercom_enrichment.metrics import EnrichmentMetrics
from intercom_enrichment.quality.guards import INTERCOM_ID_PATTERN, is_plain_id, unwritable_reason
from intercom_enrichment.windows import Window
from tests.rewriting_proxy import Answer, Deep, RewritingProxy

WORLD = {"conversations": 40, "contacts": 20, "no_contact_share": 0.0, "parts_max": 2}
TARGET = 7  # index of the conversation that gets the bad value


def run(server, proxy: RewritingProxy, out: Path, options: EnrichOptions | None = None):  # type: ignore[no-untyped-def]
    cfg = server.world.config
    settings = IntercomSettings(
        token=SecretStr(server.token), base_url=proxy.url, max_attempts=2, timeout_seconds=10
    )
    job = WindowJob(
        Window(cfg.window_start, cfg.window_end), str(out), options=options or EnrichOptions()
    )
    metrics = run_window(settings, job).metrics
    manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
    qfile = list((out / "_quarantine").glob("*.jsonl"))
    quarantine = [json.loads(x) for x in qfile[0].read_text().splitlines()] if qfile else []
    rows = ds.dataset(out / "conversations", format="parquet", partitioning="hive").to_table()
    return metrics, manifest, quarantine, rows.to_pylist()


def assert_complete(metrics: EnrichmentMetrics, manifest: dict[str, Any]) -> None:
    assert manifest["status"] == "completed"
    assert metrics.invariant_violations() == []
    assert metrics.count("status_failed") == 0


def conversation_rewrite(target_id: str, change):  # type: ignore[no-untyped-def]
    def rewrite(method: str, path: str, body: Any) -> Answer | None:
        if path == "/conversations/search":
            for item in body.get("conversations") or []:
                if str(item.get("id")) == target_id:
                    change(item)
        return None

    return rewrite


def _set(name: str, value: Any):  # type: ignore[no-untyped-def]
    return lambda item: item.__setitem__(name, value)


def _stat(item: dict[str, Any]) -> None:
    item["statistics"] = {**(item.get("statistics") or {}), "count_reopens": 2**64}


def _nested(levels: int):  # type: ignore[no-untyped-def]
    return lambda item: item.__setitem__("custom_attributes", {"deep": Deep(levels)})


BAD_CONVERSATIONS = {
    "created_at 10^13": _set("created_at", 10**13),
    "created_at -10^11": _set("created_at", -(10**11)),
    "created_at 2^63": _set("created_at", 2**63),
    "created_at Infinity": _set("created_at", math.inf),
    "updated_at NaN": _set("updated_at", math.nan),
    "updated_at -Infinity": _set("updated_at", -math.inf),
    "statistics beyond int64": _stat,
    "lone surrogate in the title": _set("title", "broken \ud800 title"),
    "custom_attributes nested 100 deep": _nested(100),
    "custom_attributes nested 5,000 deep": _nested(5000),
    "id with NUL": _set("id", "215\x00"),
    "id with CR/LF": _set("id", "215\r\nX-Injected: 1"),
    "id with a slash": _set("id", "../../me"),
    "id ..": _set("id", ".."),
    "id of 200,000 characters": _set("id", "9" * 200_000),
}


@pytest.mark.parametrize("case", list(BAD_CONVERSATIONS))
def test_one_bad_conversation_is_quarantined_and_the_window_completes(
    sandbox, tmp_path: Path, case: str
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**WORLD)
    world = server.world
    target = world.conversation_id(TARGET)
    rewrite = conversation_rewrite(target, BAD_CONVERSATIONS[case])
    with RewritingProxy(server.url, rewrite) as proxy:
        metrics, manifest, quarantine, rows = run(
            server, proxy, tmp_path, EnrichOptions(include_parts=True)
        )
    assert_complete(metrics, manifest)
    expected = {world.conversation_id(i) for i in range(WORLD["conversations"])} - {target}
    assert {r["conversation_id"] for r in rows} == expected
    assert metrics.count("conversations_quarantined") == 1
    assert metrics.conversations_listed == WORLD["conversations"]
    [entry] = [q for q in quarantine if q["kind"] == "conversation"]
    assert entry["reason"]
    assert len(json.dumps(entry)) < 20_000  # the entry is bounded, whatever the record was


def test_the_guard_names_each_reason() -> None:
    assert unwritable_reason({"a": [1, {"b": "ok"}]}) is None
    assert "int64" in (unwritable_reason({"s": {"n": -(2**63) - 1}}) or "")
    assert "finite" in (unwritable_reason({"x": math.nan}) or "")
    assert "Unicode" in (unwritable_reason({"t": "\udfff"}) or "")
    assert "Unicode" in (unwritable_reason({"\ud800": 1}) or "")
    assert "nested" in (unwritable_reason(json.loads("[" * 40 + "]" * 40)) or "")


def _nested(depth: int, leaf: Any = 1) -> Any:
    """``depth`` containers, dicts and lists by turns, around ``leaf``."""
    for level in range(depth):
        leaf = {"k": leaf} if level % 2 else [leaf]
    return leaf


@pytest.mark.parametrize(
    "record",
    [
        {"id": "1", "body": "plain", "n": 2**63 - 1, "m": -(2**63)},  # int64's own bounds
        {"n": 2**63},  # one beyond
        {"l": [1, 2**64, "x"]},
        {"l": [2**64]},  # each place a number can start: after "[", "[-", " ", " -"
        [-(2**64), 1],
        {"n": -(2**63) - 1},
        {"digits": "12345678901234567890123"},  # 19+ digits in a string: fine
        {"f": 1.2345678901234567e300, "g": -0.0},
        {"f": math.inf},
        {"s": r"ok \ud800"},  # the text of an escape, not a surrogate: fine
        {"s": "ok \ud800"},  # a lone surrogate
        {"s": ["ok", {"t": "\udc00"}]},
        {"\udfff": {"x": 1}},
        _nested(32),  # the deepest allowed (the innermost container at depth 31)
        _nested(33),
        _nested(33, "\ud800"),  # two rules broken: the exact walk decides
        {"s": "a 1234567890123456789012 b", "n": [10**30]},  # digits in a string, then not
        [],
        "just a string",
        None,
        2**64,  # a lone number: nothing before its digits
    ],
)
def test_the_fast_guard_agrees_with_the_exact_walk(record: Any) -> None:
    """The C-speed path of ``unwritable_reason`` answers exactly as the value-by-value walk;
    the text it returns for a writable record is that record, exactly."""
    from intercom_enrichment.quality.guards import _exact_reason, writable_json

    assert unwritable_reason(record) == _exact_reason(record)
    reason, text = writable_json(record)
    assert (reason, text == b"") == (_exact_reason(record), reason is not None)
    if reason is None:
        assert json.loads(text) == record
    assert all(is_plain_id(i) for i in ("215", "6543abcdef0123456789abcd", "ext-1_a"))
    bad = ("", "..", ".", "a/b", "a b", "1\x00", "1\r\n", "%2e%2e", "9" * 129, 12, None, "é")
    assert not any(is_plain_id(i) for i in bad)
    assert INTERCOM_ID_PATTERN.pattern


# (a JSON text, whether ``parse_json`` may read it with orjson: no long integer literal, nothing
# orjson refuses)
TEXTS = [
    (b'{"a": 1, "b": [1.5, -0.0, "x", true], "c": null, "d": {"e": 1e-7}}', True),
    (b'{"digits": "12345678901234567890123", "emoji": "\\ud83d\\ude00 \xc3\xa9"}', True),
    (b'{"n": 123456789012345678901234567890}', False),  # orjson: a float
    (b'{"n":[1,\n 18446744073709551616]}', False),  # after "," and a line break
    (b'{"n": [-9223372036854775809]}', False),  # after "[" and a minus
    (b'{"n": 9223372036854775807, "m": -9223372036854775808}', False),  # int64's bounds
    (b"[12345678901234567890]", False),
    (b" 12345678901234567890", False),  # a lone number: nothing before its digits
    (b'{"x": NaN}', False),
    (b'{"x": -Infinity}', False),
    (b'{"x": 1e400}', False),  # json: inf
    (b'{"s": "ok \\ud800"}', False),  # a lone surrogate
    (b'\xef\xbb\xbf{"a": 1}', False),  # a byte-order mark
    (b'{"deep": ' + b"[" * 40 + b"]" * 40 + b"}", True),  # nesting is the record's fault
]


@pytest.mark.parametrize("text, strict", TEXTS, ids=range(len(TEXTS)))
def test_parse_json_reads_each_text_as_json_does(text: bytes, strict: bool) -> None:
    """orjson reads a text only when it gives exactly ``json.loads``'s values (it reads an
    integer beyond 64 bits as a float, and refuses NaN, overflow and lone surrogates); what it
    read is a ``StrictObject``, whose items only nesting can make unwritable."""
    from intercom_enrichment.quality.guards import StrictObject, parse_json, writable_json

    got, expected = parse_json(text), json.loads(text)
    assert json.dumps(got) == json.dumps(expected)  # types too: 1 and 1.0 print apart
    assert isinstance(got, StrictObject) == (strict and isinstance(expected, dict))
    if isinstance(got, StrictObject):
        for item in got.values():
            reason, data = writable_json(item, strict=True)
            assert reason == unwritable_reason(item)
            assert reason is not None or json.loads(data) == item


def _contacts_of(world, target_contact: int) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        world.conversation_id(i)
        for i in range(WORLD["conversations"])
        if (world.conversation_contacts(i) or [None])[0] == target_contact
    }


def _active_primary(world) -> int:  # type: ignore[no-untyped-def]
    for i in range(WORLD["conversations"]):
        people = world.conversation_contacts(i)
        if people and world.contact_status(people[0]) == "active":
            return int(people[0])
    raise AssertionError("no active primary contact in the world")


def test_a_contact_id_that_is_not_plain_is_unresolvable(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**WORLD)
    world = server.world
    j = _active_primary(world)
    bad, good = "../../me", world.contact_id(j)

    def rewrite(method: str, path: str, body: Any) -> Answer | None:
        if path == "/conversations/search":
            for item in body.get("conversations") or []:
                for ref in (item.get("contacts") or {}).get("contacts") or []:
                    if ref.get("id") == good:
                        ref["id"] = bad
        return None

    with RewritingProxy(server.url, rewrite) as proxy:
        metrics, manifest, _, rows = run(server, proxy, tmp_path)
    assert_complete(metrics, manifest)
    hit = _contacts_of(world, j)
    assert hit and metrics.count("status_contact_unresolvable") == len(hit)
    assert {
        r["conversation_id"] for r in rows if r["enrichment_status"] == "contact_unresolvable"
    } == hit
    assert "me" not in server.stats.snapshot()["requests"]  # the id never became a request


def test_a_contact_record_that_never_validates_is_unresolvable_and_quarantined(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**WORLD)
    world = server.world
    j = _active_primary(world)
    cid = world.contact_id(j)

    def spoil(contact: dict[str, Any]) -> None:
        if contact.get("id") == cid:
            contact["created_at"] = 10**13

    def rewrite(method: str, path: str, body: Any) -> Answer | None:
        if path == "/contacts/search":
            for item in body.get("data") or []:
                spoil(item)
        elif path == f"/contacts/{cid}":
            spoil(body)
        return None

    with RewritingProxy(server.url, rewrite) as proxy:
        metrics, manifest, quarantine, rows = run(server, proxy, tmp_path)
    assert_complete(metrics, manifest)
    hit = _contacts_of(world, j)
    assert (
        metrics.count("status_contact_unresolvable") == len(hit)
        and metrics.contacts_unresolvable == 1
    )
    assert [q["id"] for q in quarantine if q["kind"] == "contact"] == [cid]
    assert all(r["contact_email"] is None for r in rows if r["conversation_id"] in hit)


def test_a_merge_chain_longer_than_one_hop_is_unresolvable(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**{**WORLD, "merged_contact_share": 0.3})
    world = server.world
    merged = [
        j
        for i in range(WORLD["conversations"])
        for j in (world.conversation_contacts(i) or [])[:1]
        if world.contact_status(j) == "merged" and world.canonical_contact(j) is not None
    ]
    assert merged
    j = merged[0]
    canonical = world.contact_id(world.canonical_contact(j))

    def rewrite(method: str, path: str, body: Any) -> Answer | None:
        if method == "GET" and path == f"/contacts/{canonical}":  # merged again: a chain
            error = {
                "type": "error.list",
                "errors": [{"code": "contact_merged", "message": "merged"}],
            }
            link = f'</contacts/{world.contact_id(j)}>; rel="canonical"'
            return Answer(410, error, {"Link": link})
        return None

    with RewritingProxy(server.url, rewrite) as proxy:
        metrics, manifest, _, rows = run(server, proxy, tmp_path)
    assert_complete(metrics, manifest)
    unresolvable = {
        r["contact_id"] for r in rows if r["enrichment_status"] == "contact_unresolvable"
    }
    assert world.contact_id(j) in unresolvable
    assert metrics.failure_reasons.get("contact unresolvable: merge chain longer than one hop")


def test_parts_that_cannot_be_written_are_quarantined_and_the_row_stays(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**WORLD)
    target = server.world.conversation_id(TARGET)

    def rewrite(method: str, path: str, body: Any) -> Answer | None:
        if method == "GET" and path == f"/conversations/{target}":
            parts = (body.get("conversation_parts") or {}).get("conversation_parts") or []
            parts[0]["created_at"] = 10**13
        return None

    with RewritingProxy(server.url, rewrite) as proxy:
        metrics, manifest, quarantine, rows = run(
            server, proxy, tmp_path, EnrichOptions(include_parts=True)
        )
    assert_complete(metrics, manifest)
    assert metrics.count("parts_quarantined") == 1 and metrics.count("parts_fetch_failed") == 0
    assert [q["kind"] for q in quarantine] == ["conversation_parts"]
    (row,) = [r for r in rows if r["conversation_id"] == target]
    assert row["parts_total_count"] is None  # written, without parts
    assert len(rows) == WORLD["conversations"]
