"""pii = keep | hash | drop: personal columns are protected before anything is written."""

import hashlib
import hmac
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from pydantic import SecretStr

from intercom_enrichment.enrich import EnrichOptions
from intercom_enrichment.errors import ConfigError
from intercom_enrichment.pii import PII_COLUMNS, PiiPolicy
from intercom_enrichment.pipeline import WindowJob, run_window
from intercom_enrichment.settings import IntercomSettings
from intercom_enrichment.windows import Window

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


def test_quarantined_raw_records_are_omitted_unless_kept() -> None:
    entry = {"id": "1", "reason": "bad", "record": {"email": "joe@bloggs.com"}}
    assert PiiPolicy().scrub_quarantine([entry]) == [entry]
    scrubbed = PiiPolicy("drop").scrub_quarantine([entry])
    assert scrubbed[0]["record"] is None and scrubbed[0]["reason"] == "bad"


def run(server, out: Path, policy: PiiPolicy) -> None:  # type: ignore[no-untyped-def]
    cfg = server.world.config
    settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
    job = WindowJob(
        Window(cfg.window_start, cfg.window_end),
        str(out),
        options=EnrichOptions(include_parts=True, pii=policy),
    )
    run_window(settings, job)


def strings(root: Path, table: str) -> dict[str, list]:
    data = ds.dataset(root / table, format="parquet", partitioning="hive").to_table()
    return {c: data.column(c).to_pylist() for c in PII_COLUMNS[table]}


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_no_personal_value_reaches_the_files(sandbox, tmp_path: Path, mode: str) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=120, contacts=40)
    run(server, tmp_path / "keep", PiiPolicy())
    policy = PiiPolicy(mode, SecretStr(KEY) if mode == "hash" else None)  # type: ignore[arg-type]
    run(server, tmp_path / mode, policy)
    for table in PII_COLUMNS:
        kept, protected = strings(tmp_path / "keep", table), strings(tmp_path / mode, table)
        for column, values in kept.items():
            assert any(v is not None for v in values), (table, column)
            assert protected[column] == [policy.value(v) for v in values], (table, column)
    emails = {e for e in strings(tmp_path / "keep", "contacts")["email"] if e}
    cells: set = set()
    for table in PII_COLUMNS:  # every column of every table, decoded
        data = ds.dataset(tmp_path / mode / table, format="parquet", partitioning="hive").to_table()
        cells.update(v for col in data.columns for v in col.to_pylist() if isinstance(v, str))
    assert emails and not emails & cells
    text = "".join(p.read_text() for p in (tmp_path / mode).rglob("*.json*"))
    assert not any(e in text for e in emails)  # manifests and quarantine files
