"""The command line: bad input is one line on stderr and exit 2; nothing is written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    return subprocess.run(
        [sys.executable, "-m", "intercom_enrichment_flows.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**base, **(env or {})},
    )


def run_day(output: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``run`` over 2026-10-01, a day in the past."""
    return cli(
        "run", "--start", "2026-10-01", "--end", "2026-10-02", "--output", str(output), env=env
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("intercom-enrich: error:"), proc.stderr
    assert needle in lines[0]


TOKEN = {"INTERCOM_ACCESS_TOKEN": "tok-SECRET-cli", "INTERCOM_BASE_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    ("start", "end", "needle"),
    [
        ("2026-10-02", "2026-10-01", "is not after start"),
        ("2026-10-01", "2026-10-01", "is not after start"),
        ("yesterday", "2026-10-01", "not an ISO 8601"),
        ("2026-10-01", "2999-01-01", "in the future"),
    ],
)
def test_bad_dates(tmp_path: Path, start: str, end: str, needle: str) -> None:
    proc = cli("run", "--start", start, "--end", end, "--output", str(tmp_path / "out"), env=TOKEN)
    one_line_error(proc, 2, needle)
    assert not (tmp_path / "out").exists()


def test_missing_token(tmp_path: Path) -> None:
    proc = cli("run", "--start", "2026-10-01", "--end", "2026-10-02", "--output", str(tmp_path))
    one_line_error(proc, 2, "INTERCOM_ACCESS_TOKEN")


def test_unwritable_output(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    proc = run_day(str(tmp_path / "f" / "o"), TOKEN)
    one_line_error(proc, 2, "not writable")


def test_invalid_token_stops_before_any_work(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=10, contacts=5)
    env = {"INTERCOM_ACCESS_TOKEN": "tok-SECRET-wrong", "INTERCOM_BASE_URL": server.url}
    proc = run_day(str(tmp_path / "o"), env)
    one_line_error(proc, 2, "HTTP 401")
    assert "tok-SECRET-wrong" not in proc.stderr + proc.stdout
    assert not list((tmp_path / "o").rglob("*.parquet"))


def test_unknown_version_and_region(tmp_path: Path) -> None:
    proc = run_day(str(tmp_path), {**TOKEN, "INTERCOM_VERSION": "9.9"})
    one_line_error(proc, 2, "Intercom-Version")
    env = {"INTERCOM_ACCESS_TOKEN": "t", "INTERCOM_REGION": "mars"}
    one_line_error(
        run_day(str(tmp_path), env),
        2,
        "mars",
    )


def test_help_says_naive_times_are_utc() -> None:
    proc = cli("run", "--help")
    assert proc.returncode == 0 and "UTC" in proc.stdout


def test_a_server_that_answers_html_is_not_intercom(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from intercom_enrichment.sandbox import FaultRule

    server = sandbox(conversations=10, contacts=5, faults=(FaultRule("me", "html", first_n=5),))
    env = {"INTERCOM_ACCESS_TOKEN": server.token, "INTERCOM_BASE_URL": server.url}
    proc = run_day(str(tmp_path / "o"), env)
    one_line_error(proc, 2, "HTML page, not Intercom's JSON API")
    assert not (tmp_path / "o" / "conversations").exists()


def test_the_error_line_is_the_last_line_even_when_something_logs_at_exit(tmp_path: Path) -> None:
    """Prefect's services drain at interpreter exit and log (its EventsWorker's "Still
    processing items" warning, on a logger outside ``prefect``); the CLI's error stays last."""
    code = (
        "import atexit, logging, sys\n"
        "atexit.register(lambda: logging.getLogger('EventsWorker').warning('Still processing'))\n"
        "from intercom_enrichment_flows.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    args = ["run", "--start", "2026-10-02", "--end", "2026-10-01", "--output", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**env, **TOKEN},
    )
    one_line_error(proc, 2, "is not after start")
