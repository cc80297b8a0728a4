"""Run one job in a fresh process and print one JSON line: wall time, result, peak RSS.

    python -m benchmarks.flow_runner window|plain|backfill '<json params>'

Reads INTERCOM_* and PREFECT_API_URL from the environment. The clock starts after imports and
stops when the flow returns, so a Prefect server's start-up is never counted.
"""

import json
import resource
import sys
import time
from datetime import datetime
from typing import Any


def main() -> None:
    mode, params = sys.argv[1], json.loads(sys.argv[2])
    for key in ("start", "end"):
        params[key] = datetime.fromisoformat(params[key])
    from intercom_enrichment.api.settings import IntercomSettings
    from intercom_enrichment.extract.enrich import EnrichOptions
    from intercom_enrichment.extract.pipeline import WindowJob, run_window
    from intercom_enrichment.windows import Window
    from intercom_enrichment_flows.backfill import backfill_conversations
    from intercom_enrichment_flows.enrich_conversations import enrich_conversations

    started = time.perf_counter()
    result: dict[str, Any]
    if mode == "window":
        result = enrich_conversations(**params)
    elif mode == "backfill":
        result = backfill_conversations(**params)
    elif mode == "plain":
        job = WindowJob(
            Window(params["start"], params["end"]),
            params["output"],
            params.get("batch_size", 2000),
            EnrichOptions(include_parts=params.get("include_parts", False)),
        )
        done = run_window(IntercomSettings.from_env(), job)
        result = {"files": [f.path for f in done.files], **done.metrics.to_dict()}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_rss_mb": peak_mb, "result": result}, default=str))


if __name__ == "__main__":
    main()
