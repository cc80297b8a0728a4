"""Checked up front, before anything is created: a bad token, base URL or output is one line on
stderr and exit 2, never echoes the token or a password, and leaves no folder behind (not even
``<output>/_runs``)."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.errors import ConfigError, OutputError
from intercom_enrichment.output.storage import Storage
from tests.test_cli import ROOT, one_line_error, run_day

GOOD = {"INTERCOM_ACCESS_TOKEN": "tok-SECRET-ok", "INTERCOM_BASE_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    "token",
    ["tok-SECRET\r\nX-Evil: 1", "tok SECRET", "tok-SECRET\x7f", "tök-SECRET", "tok-SECRET\t1"],
)
def test_a_token_that_is_not_visible_ascii_is_refused_without_echo(
    tmp_path: Path, token: str
) -> None:
    proc = run_day(tmp_path / "out", {**GOOD, "INTERCOM_ACCESS_TOKEN": token})
    one_line_error(proc, 2, "visible ASCII")
    assert "SECRET" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("https://user:SECRET-pw@api.intercom.io", "user name or password"),
        ("ftp://api.intercom.io", "http:// or https://"),
        ("http://127.0.0.1:99999", "not a valid URL"),
        ("http://[::1", "not a valid URL"),
        ("http://", "must name a host"),
        ("https://api.intercom.io/?token=SECRET", "query"),
        ("https://api.intercom.io\r\nX: SECRET", "control characters"),
    ],
)
def test_a_bad_base_url_is_refused_in_one_line(tmp_path: Path, url: str, needle: str) -> None:
    proc = run_day(tmp_path / "out", {**GOOD, "INTERCOM_BASE_URL": url})
    one_line_error(proc, 2, needle)
    assert "SECRET" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()


NO_AWS = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_PROFILE": "",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


@pytest.mark.parametrize(
    ("output", "needle", "env"),
    [
        ("", "must not be empty", {}),
        ("   ", "must not be empty", {}),
        ("memory://x", "not persistent", {}),
        ("nosuch://bucket/x", "Protocol not known", {}),
        ("ftp://127.0.0.1:9/x", "cannot use output", {}),
        ("s3://no-credentials/x", "output 's3://no-credentials/x' is not", NO_AWS),
    ],
)
def test_an_unusable_output_is_refused_in_one_line_and_creates_nothing(
    tmp_path: Path, output: str, needle: str, env: dict[str, str]
) -> None:
    before = sorted(p.name for p in ROOT.iterdir())
    proc = run_day(output, {**GOOD, **env})
    one_line_error(proc, 2, needle)
    assert sorted(p.name for p in ROOT.iterdir()) == before  # '' is not the current folder


def test_a_password_in_the_output_url_is_not_echoed(tmp_path: Path) -> None:
    proc = run_day("ftp://user:SECRET-pw@127.0.0.1:9/x", GOOD)
    one_line_error(proc, 2, "ftp://127.0.0.1:9/x")
    assert "SECRET" not in proc.stderr + proc.stdout


def test_a_bad_token_creates_not_even_the_runs_folder(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=5, contacts=3)
    out = tmp_path / "new" / "out"
    proc = run_day(
        out, {"INTERCOM_ACCESS_TOKEN": "tok-SECRET-wrong", "INTERCOM_BASE_URL": server.url}
    )
    one_line_error(proc, 2, "HTTP 401")
    assert "tok-SECRET-wrong" not in proc.stderr + proc.stdout
    assert not list(tmp_path.iterdir())


def test_the_write_probe_leaves_nothing(tmp_path: Path) -> None:
    Storage(str(tmp_path / "a" / "b")).check_writable()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not writable"):
        Storage(str(tmp_path / "file" / "out")).check_writable()


def test_the_manifest_records_only_scheme_host_and_path() -> None:
    settings = IntercomSettings(token=SecretStr("t"), base_url="https://api.eu.intercom.io/")
    assert settings.public_base_url == "https://api.eu.intercom.io"
    local = IntercomSettings(token=SecretStr("t"), base_url="http://[::1]:8765/v/")
    assert local.public_base_url == "http://[::1]:8765/v"
    with pytest.raises(ConfigError, match="user name or password"):
        IntercomSettings.from_env(
            {"INTERCOM_ACCESS_TOKEN": "t", "INTERCOM_BASE_URL": "https://a:b@x"}
        )
