"""Contact requests of one window under an IN-list limit: the adaptive bulk lookup's cost.

    python -m benchmarks.in_limit [conversations] [contacts]

For each limit the sandbox enforces on ``id IN [...]`` (none, 50, 15, 5) one window runs through
``pipeline.run_window``; the table shows the searches sent (and how many were refused while the
size was being found), the single GETs (only the contacts search cannot return: deleted,
merged, unsearchable), and the searches an oracle that knew the limit would send per batch.
"""

import math
import sys
import tempfile

from pydantic import SecretStr

from intercom_enrichment.api.settings import CONTACT_SEARCH_MAX_IDS, IntercomSettings
from intercom_enrichment.extract.enrich import EnrichOptions
from intercom_enrichment.extract.pipeline import WindowJob, run_window
from intercom_enrichment.sandbox import SandboxConfig, SandboxServer
from intercom_enrichment.windows import Window

LIMITS = (None, 50, 15, 5)
BATCH_SIZE = 2000


def one(limit: int | None, conversations: int, contacts: int) -> dict[str, object]:
    config = SandboxConfig(
        conversations=conversations,
        contacts=contacts,
        rate_limit=0,
        contact_search_in_limit=limit,
    )
    with SandboxServer(config) as server, tempfile.TemporaryDirectory() as out:
        assert config.window_end is not None
        window = Window(config.window_start, config.window_end)
        job = WindowJob(window, out, BATCH_SIZE, EnrichOptions())
        settings = IntercomSettings(token=SecretStr(server.token), base_url=server.url)
        metrics = run_window(settings, job).metrics
        snapshot = server.stats.snapshot()
    size = metrics.contact_search_chunk_size or CONTACT_SEARCH_MAX_IDS
    batches = math.ceil(conversations / BATCH_SIZE)
    oracle = math.ceil(metrics.contacts_unique / min(limit or size, CONTACT_SEARCH_MAX_IDS))
    return {
        "IN limit": limit or "none",
        "distinct": metrics.contacts_unique,
        "working size": size,
        "searches": snapshot["requests"].get("contacts.search", 0),
        "refused (400)": metrics.contact_search_chunk_reductions,
        "oracle searches": f"{oracle} (+≤{batches} partial)",
        "GETs": snapshot["requests"].get("contacts.get", 0),
    }


def main() -> None:
    conversations = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    contacts = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000
    rows = [one(limit, conversations, contacts) for limit in LIMITS]
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
