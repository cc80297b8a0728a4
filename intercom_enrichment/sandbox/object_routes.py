"""Endpoints for tickets, companies, deleted conversations and attribute definitions.

Each runs behind the same pipeline as the others (app.py: auth, rate limit, version, latency,
faults, stats) under its endpoint key (config.ENDPOINTS). Asked for in an API version whose
description (Intercom-OpenAPI descriptions/<v>) does not have it, an endpoint answers 400
``intercom_version_invalid`` "Requested resource is not available in current API version." (the
2.16 description documents this for GET /conversations/deleted; the sandbox uses it for all):

| endpoint | key | since |
| --- | --- | --- |
| POST /tickets/search | tickets.search | 2.10 |
| GET /tickets/{ticket_id} | tickets.get | 2.9 |
| GET /ticket_types | ticket_types.list | 2.9 |
| GET /ticket_states | ticket_states.list | 2.12 |
| GET /companies/{company_id} | companies.get | every version |
| POST /companies/list | companies.list | every version |
| GET /conversations/deleted | conversations.deleted | 2.16 |
| GET /conversations/attributes | conversations.attributes | 2.16 |
| GET /data_attributes | data_attributes.list | every version |

``/conversations/deleted`` and ``/conversations/attributes`` are routed before
``/conversations/{conversation_id}``.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from . import ticket_records
from .attributes import conversation_attributes, data_attributes
from .deletions import deleted_page
from .responses import Call, Route, answer, error_response, since
from .world import World


def _url(call: Call) -> str:
    return str(call.request.url.replace(query=""))


def _query(call: Call) -> dict[str, str]:
    return dict(call.request.query_params)


def object_routes(world: World) -> list[Route]:
    """(method, path, endpoint key, handler) of every endpoint this module serves."""
    now = world.config.start_ts
    tickets = world.tickets

    def get_ticket(call: Call) -> Response:
        t = tickets.index(call.request.path_params["ticket_id"])
        if t is None:
            return error_response(404, "ticket_not_found", "Ticket not found")
        return JSONResponse(tickets.ticket(t, call.version))

    def get_company(call: Call) -> Response:
        k = world.companies.index(call.request.path_params["company_id"])
        if k is None:
            return error_response(404, "company_not_found", "Company Not Found")
        return JSONResponse(world.companies.company(k, call.version))

    def deleted(call: Call) -> Response:
        listing = world.deletions.listing()
        return answer(
            lambda: deleted_page(listing, world.conversation_id, _query(call), _url(call))
        )

    return [
        ("POST", "/tickets/search", "tickets.search",
         since("2.10", lambda c: answer(lambda: tickets.search(c.body, c.version)))),
        ("GET", "/tickets/{ticket_id}", "tickets.get", since("2.9", get_ticket)),
        ("GET", "/ticket_types", "ticket_types.list",
         since("2.9", lambda c: answer(lambda: ticket_records.ticket_types(now, c.version)))),
        ("GET", "/ticket_states", "ticket_states.list",
         since("2.12", lambda c: answer(lambda: ticket_records.ticket_states(now, c.version)))),
        ("GET", "/companies/{company_id}", "companies.get", get_company),
        ("POST", "/companies/list", "companies.list",
         lambda c: answer(lambda: world.companies.listing(c.version, _query(c), _url(c)))),
        ("GET", "/conversations/deleted", "conversations.deleted", since("2.16", deleted)),
        ("GET", "/conversations/attributes", "conversations.attributes",
         since("2.16", lambda c: answer(lambda: conversation_attributes(_query(c), now)))),
        ("GET", "/data_attributes", "data_attributes.list",
         lambda c: answer(lambda: data_attributes(_query(c), c.version, now))),
    ]  # fmt: skip
