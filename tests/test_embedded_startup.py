"""The embedded default holds on a small, busy machine: with no Prefect server configured and no
start-up setting in the environment, a first ``intercom-enrich run`` on a fresh PREFECT_HOME
(Prefect's temporary API server must migrate its database first) succeeds while both cores are
busy — twice. Prefect's own 20 s start-up bound failed this (PrefectHQ/prefect#16397); the CLI
gives it a generous bound of its own (limits.PREFECT_STARTUP), which the user's setting beats."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from intercom_enrichment.limits import PREFECT_STARTUP
from tests.cpu import busy_cores

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(sandbox_url: str, token: str, output: Path) -> subprocess.CompletedProcess[str]:
    home = tempfile.mkdtemp(prefix="fresh-prefect-home-")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INTERCOM_", "PREFECT_"))  # nothing of the test harness's Prefect
    }
    env.update(
        PREFECT_HOME=home,
        INTERCOM_BASE_URL=sandbox_url,
        INTERCOM_ACCESS_TOKEN=token,
    )
    assert PREFECT_STARTUP.env not in env
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "intercom_enrichment_flows.cli",
            "run",
            "--start",
            "2026-10-01",
            "--end",
            "2026-10-02",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=PREFECT_STARTUP.default + 240,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.slow
def test_a_first_run_on_a_fresh_home_succeeds_with_both_cores_busy(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(conversations=50, contacts=20)
    with busy_cores():
        for attempt in range(2):
            began = time.monotonic()
            proc = run_fresh(server.url, server.token, tmp_path / f"out{attempt}")
            took = time.monotonic() - began
            assert proc.returncode == 0, (attempt, took, proc.stderr[-3000:])
            assert list((tmp_path / f"out{attempt}" / "conversations").rglob("*.parquet"))


BOUND_NOW = (
    "from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as s\n"
    "from intercom_enrichment_flows.cli import _prefect_startup_bound\n"
    "with _prefect_startup_bound(): print(s.value())\n"
)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({}, int(PREFECT_STARTUP.default)),
        ({PREFECT_STARTUP.env: "20"}, 20),  # the user's setting wins, even Prefect's default
        ({PREFECT_STARTUP.env: "7"}, 7),
    ],
)
def test_the_cli_bound_applies_unless_the_user_set_one(user: dict[str, str], expected: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=tempfile.mkdtemp(prefix="prefect-home-"), **user)
    out = subprocess.run(
        [sys.executable, "-c", BOUND_NOW], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == str(expected)


def test_a_bound_in_the_prefect_profile_wins(tmp_path: Path) -> None:
    (tmp_path / "profiles.toml").write_text(
        f'active = "mine"\n[profiles.mine]\n{PREFECT_STARTUP.env} = "9"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", BOUND_NOW], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == "9"
