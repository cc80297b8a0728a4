"""Run the hourly schedule in this process with ``flow.serve()`` — no work pool or worker.

    PREFECT_API_URL=http://127.0.0.1:4200/api python deployments/serve.py [--output DIR]

Needs a running ``prefect server start`` and the token in the environment.
"""

import argparse

from intercom_enrichment_flows.enrich_conversations import enrich_conversations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out/intercom")
    parser.add_argument("--cron", default="10 * * * *", help="schedule (UTC)")
    parser.add_argument("--lag-minutes", type=int, default=10)
    args = parser.parse_args()
    enrich_conversations.serve(
        name="hourly-served",
        cron=args.cron,
        parameters={"output": args.output, "interval": "1h", "lag_minutes": args.lag_minutes},
        tags=["intercom", "enrichment", "served"],
        description="Hourly enrichment served in-process (no work pool).",
    )


if __name__ == "__main__":
    main()
