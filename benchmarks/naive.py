"""The baseline: what the system this project replaces did, minus its fixed sleeps.

List the window page by page, then one ``GET /contacts/{id}`` per conversation, ``IN_FLIGHT``
(10) at a time, with no cache (a contact with 40 conversations is fetched 40 times). A 429 is
waited out until ``X-RateLimit-Reset``. The original also slept 200 ms after every call; that
sleep is left out here, which makes the baseline faster and the comparison harder for us.
"""

import asyncio
import contextlib
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

IN_FLIGHT = 10  # issue 12's baseline: 10 requests in flight


async def run_naive(base_url: str, token: str, start: datetime, end: datetime) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    counts: Counter[str] = Counter()
    limited = 0
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:

        async def call(endpoint: str, method: str, path: str, **kw: Any) -> dict[str, Any]:
            nonlocal limited
            while True:
                counts[endpoint] += 1
                response = await client.request(method, path, **kw)
                if response.status_code != 429:
                    response.raise_for_status()
                    return dict(response.json())
                limited += 1
                reset = float(response.headers.get("x-ratelimit-reset", time.time() + 1))
                await asyncio.sleep(max(reset - time.time(), 0.05))

        lo, hi = int(start.timestamp()) - 1, int(end.timestamp())
        query = {
            "operator": "AND",
            "value": [
                {"field": "updated_at", "operator": ">", "value": lo},
                {"field": "updated_at", "operator": "<", "value": hi},
            ],
        }
        contact_ids: list[str] = []
        seen: set[str] = set()
        cursor = None
        while True:
            pagination: dict[str, Any] = {"per_page": 150}
            if cursor:
                pagination["starting_after"] = cursor
            page = await call(
                "conversations.search",
                "POST",
                "/conversations/search",
                json={"query": query, "pagination": pagination},
            )
            for conv in page["conversations"]:
                if conv["id"] in seen or not lo < conv["updated_at"] < hi:
                    continue
                seen.add(conv["id"])
                people = conv["contacts"]["contacts"]
                if people:
                    contact_ids.append(people[0]["id"])
            cursor = (page.get("pages") or {}).get("next", {}).get("starting_after")
            if not cursor:
                break
        semaphore = asyncio.Semaphore(IN_FLIGHT)

        async def lookup(contact_id: str) -> None:
            async with semaphore:
                # deleted or merged contacts: the original dropped them
                with contextlib.suppress(httpx.HTTPStatusError):
                    await call("contacts.get", "GET", f"/contacts/{contact_id}")

        await asyncio.gather(*(lookup(c) for c in contact_ids))
    return {
        "wall": time.perf_counter() - started,
        "conversations": len(seen),
        "requests": dict(counts),
        "rate_limited": limited,
    }
