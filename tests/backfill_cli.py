"""Start `intercom-enrich backfill` in a subprocess against a sandbox and the test Prefect API."""

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_backfill(  # type: ignore[no-untyped-def]
    server,
    output: str,
    start: datetime,
    hours: int,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Hourly windows from ``start``, one at a time; ``extra`` CLI flags, ``env`` additions."""
    from prefect.settings import PREFECT_API_URL

    full = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    full.update(
        env or {},
        INTERCOM_BASE_URL=server.url,
        INTERCOM_ACCESS_TOKEN=server.token,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
    )
    end = start + timedelta(hours=hours)
    return subprocess.Popen(
        [sys.executable, "-m", "intercom_enrichment_flows.cli", "backfill",
         "--start", start.isoformat(), "--end", end.isoformat(), "--every", "1h",
         "--output", output, "--max-concurrent", "1", *extra],
        cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
