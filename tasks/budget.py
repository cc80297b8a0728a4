"""One Intercom budget across processes and flow runs: a Prefect global concurrency limit.

A limit named e.g. ``intercom-api`` with ``limit = L`` and ``slot_decay_per_second = L / 10``
lets through L calls per 10 s in total, whatever process asks. Every acquisition is an HTTP
round trip to the Prefect API, so a gate takes permits in chunks (``occupy=n``) and hands them
out one per request; the client's header-fed budget still paces requests locally. ``strict``:
a limit that does not exist is an error, not a silent pass.
"""

import asyncio

from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import rate_limit

from intercom_enrichment.api.client import IntercomClient
from intercom_enrichment.api.settings import IntercomSettings

DEFAULT_CHUNK = 10


def client_for(settings: IntercomSettings, global_limit: str | None) -> IntercomClient:
    """A task's client: behind the global limit ``global_limit`` when one is named."""
    return IntercomClient(settings, gate=GlobalLimitGate(global_limit) if global_limit else None)


class GlobalLimitGate:
    """A ``RequestGate`` for ``IntercomClient``; one per client (per task run), used in one loop."""

    def __init__(self, name: str, chunk: int = DEFAULT_CHUNK) -> None:
        self.name = name
        self.chunk = chunk
        self._stock = 0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            if self._stock == 0:
                await rate_limit(self.name, occupy=self.chunk, strict=True)
                self._stock = self.chunk
            self._stock -= 1


async def ensure_global_limit(name: str, calls_per_10s: int) -> None:
    """Create or update the limit: ``calls_per_10s`` slots that free at a tenth per second."""
    async with get_client() as client:
        await client.upsert_global_concurrency_limit_by_name(
            name, calls_per_10s, slot_decay_per_second=calls_per_10s / 10
        )
