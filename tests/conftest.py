"""Test isolation: no INTERCOM_* from the developer's shell, Prefect in a temporary home."""

import os
import tempfile

# Before anything imports prefect: a private PREFECT_HOME and no analytics or API URL.
_PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("PREFECT_PROFILES_PATH", None)

import json  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "intercom-examples"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INTERCOM_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def examples() -> dict[str, object]:
    """Every payload of shared/intercom-examples by file name."""
    assert EXAMPLES.is_dir(), f"missing {EXAMPLES}"
    return {p.name: json.loads(p.read_text()) for p in EXAMPLES.glob("*.json")}


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real Prefect API (temporary SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def sandbox():  # type: ignore[no-untyped-def]
    """Start sandboxes on free loopback ports; each is stopped after the test."""
    from intercom_enrichment.sandbox import SandboxConfig, SandboxServer

    servers: list[SandboxServer] = []

    def start(**config: object) -> SandboxServer:
        server = SandboxServer(SandboxConfig(**config))  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
