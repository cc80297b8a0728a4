"""An embedded Intercom REST API sandbox for the demo, integration tests and benchmarks.

`SandboxServer` serves a real HTTP API on 127.0.0.1 (Starlette on uvicorn, in a background
thread) over a `World`: deterministic data generated lazily from ``(seed, index)``, so even
200,000 conversations cost nothing up front. It implements ``POST /conversations/search``,
``GET /conversations/{id}``, ``GET /contacts/{id}``, ``POST /contacts/search``,
``GET /contacts/{id}/segments``, ``/tags`` and ``/companies``, ``GET /admins``, ``/teams``,
``/tags``, ``/segments`` and ``GET /me``; ``POST /tickets/search``, ``GET /tickets/{id}``,
``/ticket_types``, ``/ticket_states`` (tickets.py, ticket_records.py, ticket_parts.py),
``GET /companies/{id}`` (companies.py), ``GET /conversations/deleted`` (deletions.py),
``GET /conversations/attributes`` and ``/data_attributes`` (attributes.py), with Intercom's
payload and error shapes, its version differences (each module names the versions of what it
serves; endpoints a version lacks answer 400 ``intercom_version_invalid``, object_routes.py),
rate-limit headers, and configurable faults. Conversations carry every statistic and Fin field
of their version (conversation_metrics.py). Two control routes change the world while it runs:
``POST /sandbox/conversations/{id}/update`` (updates.py) and ``.../delete`` (deletions.py).

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
- Only ``updated_at`` (conversations, tickets) and ``id`` (contacts) can be searched on; AND
  groups only. Anything else gets 400 ``parameter_invalid``. Ticket search pages like
  conversation search (same cursor format, boundary and order options; per_page clamped to 150
  although the spec documents no maximum for tickets); a cursor of one kind is refused by the
  other.
- Endpoints a version's description lacks answer 400 ``intercom_version_invalid`` "Requested
  resource is not available in current API version." (documented for /conversations/deleted
  only). An unknown ticket is 404 ``ticket_not_found`` "Ticket not found" (GET /tickets/{id}
  documents no 404; other ticket endpoints use this). A ``"403"`` fault names the scope
  ``read_tickets`` for ticket endpoints, ``read_conversations`` for conversations,
  ``read_users`` for contacts, ``read_<prefix>`` otherwise (the spec shows only
  read_conversations).
- Tickets: unassigned assignees are ``"0"`` up to 2.15 (as the examples; the schema says only
  "string"); ``previous_ticket_state_id`` is the state before the last change of state (null if
  none); ``previous_ticket_state``/``ticket_state`` appear only on state-change parts,
  ``updated_attribute_data`` only on attribute updates and ``app_package_code`` only on parts
  "created via API" (about 10%), as the examples show; ``ticket_type_attributes`` follow the
  schema (``ticket_type_attributes.list``), not the examples' ``{type: list, data}``; ticket
  types carry ``is_internal`` (examples and request schemas only). Tickets link to at most one
  conversation, and the conversation lists the ticket back.
- Deleted conversations (``deleted_conversations`` share, default 0): ordered by ``deleted_at``
  (the spec says "IDs in ascending or descending order"; its example is ordered by deleted_at);
  ``per_page`` over 60 is clamped to 60, ``order`` other than asc/desc is 400
  ``parameter_invalid``; ``deleted_at`` is 1 minute to 2 days after the conversation's
  ``updated_at`` (or when the control route deleted it); ``metrics_retained`` is a seeded coin.
- Statistics: ``assigned_team_first_response_time`` lists the assigned team (none without one,
  not an "Unassigned" entry); ``handling_time`` runs from the last assignment to the close of a
  closed, assigned conversation (null otherwise). Fin: in 2.14 ``procedure_handoff`` reads
  ``routed_to_team`` (2.14 has no name for it).
- Companies: ``user_count`` is seeded, not counted from the sandbox's contacts; a company
  without a plan has ``plan: {}``; ``GET /contacts/{id}/companies`` lists whole companies under
  ``companies`` (the schema's key; the example shows ``data``) with ``pages.next`` a URL.
- Data attributes: an unknown ``model`` is 400 ``parameter_invalid``; each model has one
  archived custom attribute, listed with ``include_archived=true``.
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
