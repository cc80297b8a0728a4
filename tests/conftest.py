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
import logging  # noqa: E402
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


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A real S3-compatible server (moto) on loopback, with buckets ``lake`` and ``leases``;
    the AWS environment points at it while the module's tests run."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import boto3
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # fsspec caches filesystems with their endpoint
    for bucket in ("lake", "leases"):
        boto3.client("s3").create_bucket(Bucket=bucket)
    yield env
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
