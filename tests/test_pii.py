"""pii = keep | hash | drop: personal columns are protected before anything is written."""

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.errors import ConfigError
from intercom_enrichment.extract.dimensions import DimensionSnapshot
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.listing import Listing
from intercom_enrichment.extract.pipeline import WindowJob, run_window
from intercom_enrichment.objects.conversations import CONVERSATION
from intercom_enrichment.output.storage import Storage
from intercom_enrichment.output.writer import BatchRecords
from intercom_enrichment.quality.pii import PiiPolicy
from intercom_enrichment.windows import Window
from intercom_enrichment_tasks.publish import summary_markdown
from tests.rewriting_proxy import Answer, RewritingProxy

KEY = "pii-key-for-tests"


def test_hash_is_keyed_and_stable() -> None:
    a = PiiPolicy("hash", SecretStr(KEY))
    b = PiiPolicy("hash", SecretStr("another-key"))
    expected = hmac.new(KEY.encode(), b"joe@bloggs.com", hashlib.sha256).hexdigest()
    assert a.value("joe@bloggs.com") == expected == a.value("joe@bloggs.com")
    assert b.value("joe@bloggs.com") != expected
    assert a.value(None) is None
    assert PiiPolicy("drop").value("joe@bloggs.com") is None
    assert PiiPolicy().value("joe@bloggs.com") == "joe@bloggs.com"


def test_hash_without_a_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="INTERCOM_PII_HMAC_KEY"):
        PiiPolicy.from_env("hash", {})
    with pytest.raises(ConfigError, match="keep, hash or drop"):
        PiiPolicy.from_env("mask", {})
    assert PiiPolicy.from_env("hash", {"INTERCOM_PII_HMAC_KEY": KEY}).key is not None


def test_what_carries_people_s_data_shows_none_of_it_in_its_repr() -> None:
    person = {"id": "1", "email": "joe@bloggs.com", "name": "Joe Bloggs"}
    batch = BatchRecords(rows={"contacts": [person, person]}, quarantine=[person])
    listing = Listing.unavailable_for(CONVERSATION, "HTTP 403")
    listing.quarantine.append(person)
    dims = DimensionSnapshot(kept={"admins": [person]})
    try:
        texts = [repr(batch), repr(listing), repr(dims)]
    finally:
        listing.close()
    assert not [t for t in texts if "bloggs" in t.lower()]
    assert repr(batch) == "BatchRecords(rows={'contacts': 2}, quarantine=1)"


def test_quarantined_raw_records_are_omitted_unless_kept() -> None:
    entry = {"id": "1", "reason": "bad", "record": {"email": "joe@bloggs.com"}}
    assert PiiPolicy().scrub_quarantine([entry]) == [entry]
    scrubbed = PiiPolicy("drop").scrub_quarantine([entry])
    assert scrubbed[0]["record"] is None and scrubbed[0]["reason"] == "bad"


def test_free_form_attributes_keep_their_shape_but_not_their_strings() -> None:
    policy = PiiPolicy("hash", SecretStr(KEY))
    text = json.dumps({"manager": "Aoife Byrne", "seats": 3, "beta": True, "l": ["x"]})
    out = json.loads(policy.free_form(text))
    assert out == {
        "manager": policy.value("Aoife Byrne"),
        "seats": 3,
        "beta": True,
        "l": [policy.value("x")],
    }
    assert json.loads(PiiPolicy("drop").free_form(text))["manager"] is None
    assert PiiPolicy().free_form(text) == text


# -- the whole output, against the sandbox's people ---------------------------------------

WORLD = {
    "conversations": 60,
    "contacts": 25,
    "tickets": 20,
    "parts_max": 4,
    "no_contact_share": 0.1,
}
SPOILED_CONVERSATION = 3


def people(world) -> set[str]:  # type: ignore[no-untyped-def]
    """Every email, name, phone and part body of the sandbox's people, from its world."""
    values: set[str] = set()
    for j in range(WORLD["contacts"]):
        contact = world.contact(j)
        values.update(contact.get(k) for k in ("email", "name", "phone"))
    for i in range(WORLD["conversations"]):
        conv = world.conversation_with_parts(i)
        source = conv.get("source") or {}
        values.add(source.get("body"))
        values.update((source.get("author") or {}).get(k) for k in ("name", "email"))
        for part in (conv.get("conversation_parts") or {}).get("conversation_parts") or []:
            values.add(part.get("body"))
            values.update((part.get("author") or {}).get(k) for k in ("name", "email"))
        values.add((conv.get("ai_agent") or {}).get("rating_remark"))  # what people wrote Fin
    tickets = world.tickets
    for k in range(tickets.count):
        ticket = tickets.ticket(k, "2.16")
        attributes = ticket.get("ticket_attributes") or {}
        values.update(attributes.get(a) for a in ("_default_title_", "_default_description_"))
        for part in (ticket.get("ticket_parts") or {}).get("ticket_parts") or []:
            values.add(part.get("body"))
            values.update((part.get("author") or {}).get(k) for k in ("name", "email"))
    return {v for v in values if isinstance(v, str) and v}


def spoiler(world):  # type: ignore[no-untyped-def]
    """Rewrites that make the run quarantine a contact and a conversation, both personal."""
    primaries = (world.conversation_contacts(i)[:1] for i in range(WORLD["conversations"]))
    active = next(j for p in primaries for j in p if world.contact_status(j) == "active")
    cid = world.contact_id(active)  # its record never validates: quarantined, raw and all
    conv_id = world.conversation_id(SPOILED_CONVERSATION)

    def rewrite(method: str, path: str, body: Any) -> Answer | None:
        items: list[Any] = []
        if path == "/contacts/search":
            items = [c for c in body.get("data") or [] if c.get("id") == cid]
        elif path == f"/contacts/{cid}":
            items = [body]
        for item in items:
            item["created_at"] = 10**13
        if path == "/conversations/search":
            for item in body.get("conversations") or []:
                if str(item.get("id")) == conv_id:
                    item["updated_at"] = float("inf")
        return None

    return rewrite


def run(server, proxy, out: Path, policy: PiiPolicy, *, parts: bool = True):  # type: ignore[no-untyped-def]
    cfg = server.world.config
    settings = IntercomSettings(token=SecretStr(server.token), base_url=proxy.url)
    job = WindowJob(
        Window(cfg.window_start, cfg.window_end),
        str(out),
        options=EnrichOptions(include_parts=parts, include_segments=True, pii=policy),
    )
    result = run_window(settings, job)
    artifacts = summary_markdown(job.window, result.metrics, result.files, Storage(str(out)), None)
    return artifacts + json.dumps(result.metrics.to_dict())


def found(root: Path, needles: set[str], texts: list[str]) -> dict[str, set[str]]:
    """Where any needle appears: every Parquet cell read back (lists too), every column's
    statistics, every file's bytes (footers, metadata, JSON), and the given texts."""
    long = {n for n in needles if len(n) >= 6}  # short ones ("Fin") only as whole cells
    hits: dict[str, set[str]] = {}

    def check(where: str, value: Any, substrings: bool) -> None:
        if isinstance(value, list):
            for v in value:
                check(where, v, substrings)
        elif isinstance(value, bytes):
            check(where, value.decode("utf-8", "replace"), substrings)
        elif isinstance(value, str):
            bad = {value} & needles | ({n for n in long if n in value} if substrings else set())
            if bad:
                hits.setdefault(where, set()).update(bad)

    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(root))
        check(f"{rel} (bytes)", path.read_bytes().decode("utf-8", "replace"), True)
        if path.suffix != ".parquet":
            continue
        table = pq.read_table(path)
        for name in table.column_names:
            for cell in table.column(name).to_pylist():
                check(f"{rel}:{name}", cell, True)
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                stats = meta.row_group(g).column(c).statistics
                if stats is not None and stats.has_min_max:
                    check(f"{rel}:statistics", [stats.min, stats.max], True)
    for k, text in enumerate(texts):
        check(f"text {k}", text, True)
    return hits


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_no_personal_value_of_the_sandbox_people_is_anywhere(
    sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**WORLD)
    needles = people(server.world)
    out = tmp_path / "out"
    caplog.set_level(logging.DEBUG)
    with RewritingProxy(server.url, spoiler(server.world)) as proxy:
        kept = run(server, proxy, out, PiiPolicy())
        # The check can see them: under keep they are in the cells, the quarantine and stats.
        where = found(out, needles, [])
        assert any(":contact_email" in w for w in where) and any(":author_name" in w for w in where)
        assert any(":body" in w for w in where) and any(w.startswith("_quarantine") for w in where)
        assert any(w.endswith(":statistics") for w in where)
        caplog.clear()
        policy = PiiPolicy(mode, SecretStr(KEY) if mode == "hash" else None)  # type: ignore[arg-type]
        artifacts = run(server, proxy, out, policy)  # a rerun of the window, stricter
    assert kept
    quarantine = (out / "_quarantine").glob("*.jsonl")
    assert {json.loads(x)["kind"] for q in quarantine for x in q.read_text().splitlines()} >= {
        "contact",
        "conversation",
    }
    assert found(out, needles, [caplog.text, artifacts]) == {}


def test_a_rerun_from_keep_to_hash_without_parts_leaves_no_clear_text(
    sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(**WORLD)
    needles = people(server.world)
    out = tmp_path / "out"
    with RewritingProxy(server.url, spoiler(server.world)) as proxy:
        run(server, proxy, out, PiiPolicy(), parts=True)
        assert list((out / "conversation_parts").rglob("*.parquet"))
        caplog.set_level(logging.DEBUG)
        artifacts = run(server, proxy, out, PiiPolicy("hash", SecretStr(KEY)), parts=False)
    assert not list((out / "conversation_parts").rglob("*.parquet"))  # not written: removed
    manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    snapshots = {f"dimensions/{p.name}" for p in (out / "dimensions").glob("*.parquet")}
    assert snapshots  # the run's dimension snapshots: no window's files, replaced whole
    runs = {f"_runs/{p.name}" for p in (out / "_runs").glob("*.json")}
    assert on_disk - listed == runs | snapshots  # the window's files are exactly the listed
    assert found(out, needles, [caplog.text, artifacts]) == {}
