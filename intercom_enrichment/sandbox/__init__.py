"""An embedded Intercom REST API sandbox for the demo, integration tests and benchmarks.

`SandboxServer` serves a real HTTP API on 127.0.0.1 (Starlette on uvicorn, in a background
thread) over a `World`: deterministic data generated lazily from ``(seed, index)``, so even
200,000 conversations cost nothing up front. It implements ``POST /conversations/search``,
``GET /conversations/{id}``, ``GET /contacts/{id}``, ``POST /contacts/search``,
``GET /contacts/{id}/segments``, ``/tags`` and ``/companies``, ``GET /admins``, ``/teams``,
``/tags``, ``/segments`` and ``GET /me`` with Intercom's payload and error shapes, its version
differences (≤2.15 vs 2.16 and later), rate-limit headers, and configurable faults.

Documented behaviour it follows (Intercom-OpenAPI descriptions/2.14–2.16, ../shared/docs/
intercom-api.md): a merged contact answers 410 ``contact_merged`` with a ``Link`` to the canonical
contact from 2.16 (2.17, ``Preview``), and 404 like a deleted contact up to 2.15; a contact's tags
and companies are references ``{type, id, url}`` without names, at most 10 with ``has_more``
(names from ``GET /tags``, full lists from ``GET /contacts/{id}/tags`` and ``/companies``); a
rejected cursor is 400 ``client_error`` "Invalid starting_after param…"; versions 1.0–1.4,
2.0–2.17 and ``Preview`` are accepted.

Where Intercom's documentation is silent, the sandbox picks one behaviour (most configurable):

- Search boundaries: ``>``/``<`` on ``updated_at`` are inclusive by default
  (``boundary="strict"`` makes them exclusive); ``>=``/``<=`` are always inclusive.
- Result order: ascending ``updated_at`` by default (``order="descending"`` or a deterministic
  ``"shuffled"`` permutation).
- Cursors: opaque, URL-safe unpadded base64 of ``{"offset": n, "query": fingerprint}``; a cursor
  that does not decode or belongs to another query gets the cursor error above. ``per_page``
  defaults to 20 (conversations) / 50 (contacts) and is clamped to 150.
- Rate limits: fixed windows aligned to multiples of 10 s of the UNIX clock; every counted
  call, refused or not, uses a slot. ``rate_limit=0`` disables limiting and the headers.
  ``Retry-After`` is only sent when ``retry_after_header`` is set.
- IN lists: no limit unless ``contact_search_in_limit`` is set; then a longer ``id IN [...]``
  gets 400 ``parameter_invalid`` (IN is a shortcut for OR; a group allows 15 filters).
- Merge chains: the ``Link`` names the final (active) contact, as 2.16 documents.
- Without an ``Intercom-Version`` header the sandbox uses 2.14.
- Only ``updated_at`` (conversations) and ``id`` (contacts) can be searched on; AND groups
  only. Anything else gets 400 ``parameter_invalid``.
"""

from .config import FaultRule, SandboxConfig
from .server import SandboxServer, run_sandbox, serve_forever
from .stats import SandboxStats
from .world import World

__all__ = [
    "FaultRule",
    "SandboxConfig",
    "SandboxServer",
    "SandboxStats",
    "World",
    "run_sandbox",
    "serve_forever",
]
