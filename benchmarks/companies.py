"""Company requests per company a window references, by the strategy the tool uses (issues 21
and 22: by id, or picked out of ``POST /companies/list`` when its pages are fewer).

    .venv/bin/python -m benchmarks.companies [--sizes 2000 20000] [--workspace 0 50000]

For each size and workspace (0: the sandbox's default number of companies), one day's window on
the sandbox (in this process, no latency: requests are counted, not timed): the distinct
companies the window's contacts reference, the ``POST /companies/list`` and ``GET
/companies/{id}`` requests the run made, and their ratio to the companies referenced (target
≤ 1.1). A workspace over 10,000 companies is beyond the list's reach: by id.
"""

import argparse
import itertools
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--workspace", type=int, nargs="+", default=[0, 50_000])
    args = parser.parse_args()
    print(
        "| conversations | contacts | companies in workspace | referenced by the window "
        "| POST /companies/list | GET /companies/{id} | requests ÷ referenced |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, companies in itertools.product(args.sizes, args.workspace):
        config = SandboxConfig(
            conversations=size,
            contacts=size * 3 // 10,
            rate_limit=0,
            window_start=START,
            companies=companies or None,
        )
        window = Window(START, START + timedelta(days=1))
        with SandboxServer(config) as server, tempfile.TemporaryDirectory() as out:
            settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
            with AsyncioExecutor(settings, budget=RateBudget()) as executor:
                job = WindowJob(window, out, 2000, EnrichOptions())
                metrics = run_pipeline(settings, job, executor).metrics
            workspace = server.world.companies.count
        referenced = metrics.companies_referenced
        pages = metrics.requests_by_endpoint.get("companies.list", 0)
        gets = metrics.requests_by_endpoint.get("companies.get", 0)
        print(
            f"| {size:,} | {config.contacts:,} | {workspace:,} | {referenced:,} | {pages:,} "
            f"| {gets:,} | {(pages + gets) / max(referenced, 1):.2f} |"
        )


if __name__ == "__main__":
    main()
