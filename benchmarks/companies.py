"""Company requests per company a window references, by the strategy the tool uses (issue 21).

    .venv/bin/python -m benchmarks.companies [--sizes 2000 20000]

For each size, one day's window on the sandbox (in this process, no latency: requests are
counted, not timed): the distinct companies the window's contacts reference, the
``GET /companies/{id}`` requests the run made, and their ratio (target ≤ 1.1). Beside them, what
the two whole-workspace listings would cost for the same window: ``POST /companies/list`` and
``GET /companies/scroll`` read every company of the workspace (50 a page at most for the list,
the scroll's page size is the API's), whatever the window references.
"""

import argparse
import math
import tempfile
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from intercom_enrichment.api.budget import RateBudget
from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import AsyncioExecutor, WindowJob, run_pipeline
from intercom_enrichment.sandbox import SandboxConfig, SandboxServer
from intercom_enrichment.windows import Window

START = datetime(2026, 10, 1, tzinfo=UTC)
LIST_PAGE = 50  # POST /companies/list: per_page at most 50 (OpenAPI 2.16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    print(
        "| conversations | contacts | companies in workspace | referenced by the window "
        "| GET /companies/{id} | requests ÷ referenced | list or scroll pages (whole workspace) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        config = SandboxConfig(
            conversations=size, contacts=size * 3 // 10, rate_limit=0, window_start=START
        )
        window = Window(START, START + timedelta(days=1))
        with SandboxServer(config) as server, tempfile.TemporaryDirectory() as out:
            settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
            with AsyncioExecutor(settings, budget=RateBudget()) as executor:
                job = WindowJob(window, out, 2000, EnrichOptions())
                metrics = run_pipeline(settings, job, executor).metrics
            workspace = server.world.companies.count
        referenced = metrics.companies_referenced
        requests = metrics.requests_by_endpoint.get("companies.get", 0)
        print(
            f"| {size:,} | {config.contacts:,} | {workspace:,} | {referenced:,} | {requests:,} "
            f"| {requests / max(referenced, 1):.2f} | {math.ceil(workspace / LIST_PAGE):,} |"
        )


if __name__ == "__main__":
    main()
