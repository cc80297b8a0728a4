"""What ``intercom-enrich demo`` prints after a run: metrics, files, and how to read them."""

from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from .objects.declaration import Status
from .objects.registry import SEARCHED


def print_summary(result: dict[str, Any], output: str) -> None:
    root = Path(output).resolve()
    objects = [o for o in SEARCHED if o.table.name in result.get("objects", ["conversations"])]
    print(f"\nwindow {result['window']}:")
    print(f"  {'enrichment status':<21} " + " ".join(f"{o.table.name:>13}" for o in objects))
    for status in Status:
        counts = " ".join(f"{result[o.metrics.of_status(status)]:>13}" for o in objects)
        print(f"  {status.value:<21} {counts}")
    parts = ", ".join(f"{o.parts.name} {result[o.metrics.parts_written]}" for o in objects)
    print(
        f"  contacts {result['contacts_unique']} distinct, {result['contacts_fetched']} fetched; "
        f"companies {result['companies_fetched']} of {result['companies_referenced']}; {parts}; "
        f"API requests {result['api_requests']} ({result['api_retries']} retries, "
        f"{result['api_rate_limited']} answered 429)"
    )
    print(f"\nfiles under {root}:")
    for rel in result["files"]:
        print(f"  {rel}")
    print(f"  _runs/{result['window']}.json  (the run manifest: parameters, files, metrics)")
    table = ds.dataset(root / "conversations", format="parquet", partitioning="hive").to_table()
    print(f"\nread back: {table.num_rows} conversation rows, {table.num_columns} columns")
    print("\nquery it with pandas:")
    print("  import pandas as pd")
    print(f"  df = pd.read_parquet('{root / 'conversations'}')")
    print("  df.groupby('enrichment_status').size()")
    from .marts import report

    print("\nsupport by day created (marts/support_daily, current state):")
    print(report(output, 14))
