"""What ``intercom-enrich demo`` prints after a run: metrics, files, and how to read them."""

from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from .metrics import STATUSES


def print_summary(result: dict[str, Any], output: str) -> None:
    root = Path(output).resolve()
    print(f"\nwindow {result['window']}: {result['conversations_written']} conversations written")
    for status in STATUSES:
        print(f"  {status:<21} {result[f'status_{status}']}")
    print(
        f"  contacts {result['contacts_unique']} distinct, {result['contacts_fetched']} fetched; "
        f"parts {result['parts_written']}; API requests {result['api_requests']} "
        f"({result['api_retries']} retries, {result['api_rate_limited']} answered 429)"
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
