"""What one listed conversation costs the process, step by step, in microseconds.

    .venv/bin/python -m benchmarks.record_costs [--pages 2]

The conversations come from the sandbox (S1's world: 20,000 conversations, 6,000 contacts),
read through its search like the listing reads them; each step is then timed on all of them,
in this process, best of five: parsing a page's body (``guards.parse_json``: orjson when it
reads the text exactly, as on these pages; ``json.loads`` otherwise), the writability check
of a record of such a page (``strict``: orjson's encoding and a bracket count) and of any other
(``json.dumps``, the 19-digit searches, the bracket count), validation into ``Conversation``
with that check and without it (``CHECKED``: the text passed it already), and reading a record
back from the spill (``spill.RecordSpill``, which keeps the check's text, with orjson); for
comparison, ``json`` in their place and the pickling round trip the spill made until it kept
the text. Prints a table.
"""

import argparse
import json
import pickle
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from intercom_enrichment.extract.spill import RecordSpill
from intercom_enrichment.objects.common import CHECKED
from intercom_enrichment.objects.conversations import Conversation
from intercom_enrichment.quality import guards
from intercom_enrichment.sandbox import SandboxConfig, SandboxServer

START = datetime(2026, 10, 1, tzinfo=UTC)
SEARCH = {
    "query": {"field": "updated_at", "operator": ">", "value": 0},
    "pagination": {"per_page": 150},
}


def pages(count: int) -> list[bytes]:
    """``count`` raw search pages of S1's conversations, in the listing's order."""
    config = SandboxConfig(conversations=20_000, contacts=6_000, tickets=0)
    bodies: list[bytes] = []
    with SandboxServer(config) as server:
        headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
        query: dict[str, Any] = json.loads(json.dumps(SEARCH))
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            for _ in range(count):
                response = client.post("/conversations/search", json=query)
                response.raise_for_status()
                bodies.append(response.content)
                cursor = (response.json().get("pages") or {}).get("next") or {}
                if not cursor.get("starting_after"):
                    break
                query["pagination"]["starting_after"] = cursor["starting_after"]
    return bodies


def best(step: Callable[[], object], per: int) -> float:
    """Microseconds of ``step`` per item (``per`` items a call), best of five."""
    times = []
    for _ in range(5):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return min(times) / per * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    bodies = pages(args.pages)
    items = [i for body in bodies for i in json.loads(body)["conversations"]]
    n = len(items)
    texts = [guards.writable_json(i)[1] for i in items]
    models = [Conversation.model_validate(i) for i in items]
    blobs = [pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL) for m in models]
    spill = RecordSpill(Conversation)
    try:
        spilled = [guards.writable_json(i, strict=True)[1] for i in items]  # as S1's listing
        locations = [spill.add(text) for text in spilled]
        steps: dict[str, Callable[[], object]] = {
            "parse the page bodies (guards.parse_json)": lambda: list(
                map(guards.parse_json, bodies)
            ),
            "(parse them with json.loads)": lambda: [json.loads(b) for b in bodies],
            "writability check of a page orjson read (strict)": lambda: [
                guards.writable_json(i, strict=True) for i in items
            ],
            "writability check of any other (guards.writable_json)": lambda: list(
                map(guards.writable_json, items)
            ),
            "… of which json.dumps and encode": lambda: [
                json.dumps(i, ensure_ascii=False, allow_nan=False).encode() for i in items
            ],
            "… of which the 19-digit searches": lambda: [
                any(search(t) for search in guards._SEARCHES) for t in texts
            ],
            "validate, with the check": lambda: list(map(Conversation.model_validate, items)),
            "validate, checked already (CHECKED)": lambda: [
                Conversation.model_validate(i, context=CHECKED) for i in items
            ],
            "spill: read back (orjson, validate CHECKED)": lambda: [
                spill.read(*at) for at in locations
            ],
            "(read back with json.loads)": lambda: [
                Conversation.model_validate(json.loads(t), context=CHECKED) for t in spilled
            ],
            "(the spill before: pickle a record)": lambda: [
                pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL) for m in models
            ],
            "(the spill before: unpickle it)": lambda: list(map(pickle.loads, blobs)),
        }
        rows = [(name, best(step, n)) for name, step in steps.items()]
    finally:
        spill.close()
    assert all(isinstance(guards.parse_json(b), guards.StrictObject) for b in bodies)
    print(f"{n} conversations of S1, {sum(map(len, texts)) // n} bytes of JSON each\n")
    print("| step | µs a conversation |\n|---|---|")
    for name, micros in rows:
        print(f"| {name} | {micros:.1f} |")


if __name__ == "__main__":
    main()
