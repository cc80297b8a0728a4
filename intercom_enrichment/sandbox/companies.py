"""Companies: the ones contacts name are real, and ``GET /companies/{id}`` serves them.

Company ``k`` of ``config.companies`` has the Intercom id ``<prefix><k as 16 hex digits>`` (24
hex characters like a contact id, with a prefix no contact id has) and is generated from
``(seed, k)``. A contact's companies are drawn uniformly, distinct (records.build_contact).

Shapes: schema ``company`` of Intercom-OpenAPI descriptions/2.16 (``notes`` from 2.16 only;
2.14 and 2.15 have no ``notes``); an unknown id is 404 ``company_not_found`` "Company Not Found"
(descriptions/2.16, ``GET /companies/{company_id}``). ``GET /contacts/{id}/companies`` answers
the schema ``contact_attached_companies``: the list is under ``companies`` (the spec's example
shows ``data``; the schema wins) and its items are whole company objects; ``pages`` is a
``pages_link`` whose ``next`` is the next page's URL, null on the last page.

``POST /companies/list`` (descriptions/2.16, ``listAllCompanies``; schema ``company_list``)
answers ``{type: list, data: [company], pages, total_count}``: ``page`` and ``per_page`` are query
parameters (default 15), sorted by ``last_request_at``, descending unless ``order=asc``; "a limit
of 10,000 Companies that can be returned", so pages stop there while ``total_count`` is the
whole count. Every sandbox company has a seeded ``user_count`` of at least 1, so none is left
out as a company "who have no associated users".

Where the spec is silent: the largest ``per_page`` of the list (the sandbox answers at most 50);
 ``user_count`` is a seeded number, not the number of sandbox contacts
naming the company (counting them would mean generating every contact); a company without a
plan has ``plan: {}`` as the spec's example shows.
"""

from __future__ import annotations

import random
from typing import Any

from .config import SandboxConfig, at_least
from .records import DAY, build_segments
from .responses import page_numbers, positive_param
from .timeline import HexIds
from .vocab import CONTACT_TAGS

COMPANIES_PER_PAGE = 15  # default per_page of GET /contacts/{id}/companies in the sandbox
LIST_DEFAULT_PER_PAGE = 15  # POST /companies/list: "Defaults to 15" (descriptions/2.16)
LIST_MAX_PER_PAGE = 50  # the sandbox's choice: the spec names no maximum
LIST_LIMIT = 10_000  # "a limit of 10,000 Companies that can be returned" (descriptions/2.16)
NOTES_SINCE = "2.16"
_NAMES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Soylent", "Tyrell", "Wonka")
_SUFFIXES = ("Inc", "Ltd", "GmbH", "Labs", "Group", "Systems")
_INDUSTRIES = ("Software", "Retail", "Healthcare", "Finance", "Education", "Logistics")
PLANS = (("269315", "Free"), ("269316", "Pro"), ("269317", "Enterprise"))


class Companies:
    """The sandbox's `config.companies` companies."""

    def __init__(self, config: SandboxConfig) -> None:
        self._seed, self._count, self._now = config.seed, config.company_count, config.start_ts
        prefix = f"{(config.seed & 0xFFFFFFFF) ^ 0x5A5A5A5A:08x}"  # never a contact's
        self._ids = HexIds(prefix, self._count)
        self._by_last_request: list[int] | None = None

    @property
    def count(self) -> int:
        return self._count

    def company_id(self, k: int) -> str:
        return self._ids.id(k)

    def index(self, company_id: str) -> int | None:
        """Index of the company with this Intercom id, or None if there is none."""
        return self._ids.index(company_id)

    def ids_for(self, draws: list[int]) -> list[str]:
        """Distinct company ids for a contact's random draws (fewer if there are few)."""
        chosen: list[int] = []
        for draw in draws[: self._count]:
            k = draw % self._count
            while k in chosen:
                k = (k + 1) % self._count
            chosen.append(k)
        return [self.company_id(k) for k in chosen]

    def company(self, k: int, version: str) -> dict[str, Any]:
        """Company `k` as ``GET /companies/{id}`` returns it in `version`."""
        if not 0 <= k < self._count:
            raise IndexError(f"company index {k} out of range(0, {self._count})")
        rng = random.Random(f"{self._seed}:company:{k}")
        name = f"{rng.choice(_NAMES)} {rng.choice(_SUFFIXES)}"
        created = self._now - rng.randint(30 * DAY, 4 * 365 * DAY)
        updated = rng.randint(created, self._now)
        plan = rng.choice(PLANS) if rng.random() < 0.8 else None
        tags = rng.sample(CONTACT_TAGS, rng.choice((0, 0, 1, 2)))
        record: dict[str, Any] = {
            "type": "company",
            "id": self.company_id(k),
            "name": name,
            "app_id": "sandbox",
            "plan": {"type": "plan", "id": plan[0], "name": plan[1]} if plan else {},
            "company_id": f"acct-{k:06d}",
            "remote_created_at": created - rng.randint(0, 365 * DAY),
            "created_at": created,
            "updated_at": updated,
            "last_request_at": rng.randint(updated, self._now),
            "size": rng.choice((5, 20, 50, 200, 1000, 5000)),
            "website": f"https://{name.split()[0].lower()}-{k}.example.com",
            "industry": rng.choice(_INDUSTRIES),
            "monthly_spend": rng.choice((0, 49, 99, 499, 2500)),
            "session_count": rng.randint(0, 20_000),
            "user_count": rng.randint(1, 400),
            "custom_attributes": _custom_attributes(rng),
            "tags": {
                "type": "tag.list",
                "tags": [{"type": "tag", "id": tid, "name": tname} for tid, tname in tags],
            },
            "segments": {"type": "segment.list", "segments": build_segments(rng, self._now)},
            "notes": {"type": "note.list", "notes": []},
        }
        if not at_least(version, NOTES_SINCE):
            del record["notes"]
        return record

    def listing(self, version: str, query: dict[str, str], url: str) -> dict[str, Any]:
        """``POST /companies/list``: one page of every company, by ``last_request_at``."""
        if self._by_last_request is None:  # every company is built once, on the first call
            stamps = [(self.company(k, version)["last_request_at"], k) for k in range(self._count)]
            self._by_last_request = [k for _, k in sorted(stamps, reverse=True)]
        order = self._by_last_request[:LIST_LIMIT]
        if query.get("order") == "asc":
            order = self._by_last_request[::-1][:LIST_LIMIT]
        page = positive_param(query.get("page"), 1)
        asked = positive_param(query.get("per_page"), LIST_DEFAULT_PER_PAGE, "per_page")
        per_page = min(asked, LIST_MAX_PER_PAGE)
        window, pages = page_numbers(len(order), page, per_page, f"{url}?per_page={per_page}&page=")
        return {
            "type": "list",
            "data": [self.company(k, version) for k in order[window]],
            "pages": pages,
            "total_count": self._count,
        }


def _custom_attributes(rng: random.Random) -> dict[str, Any]:
    """Company custom attributes (their definitions: attributes.py)."""
    if rng.random() < 0.3:
        return {}
    return {
        "paid_subscriber": rng.random() < 0.6,
        "team_mates": rng.randint(1, 60),
        "region": rng.choice(("EMEA", "AMER", "APAC")),
    }


def contact_companies(
    companies: Companies,
    full_contact: dict[str, Any],
    version: str,
    query: dict[str, str],
    url: str,
) -> dict[str, Any]:
    """``GET /contacts/{id}/companies``: the contact's companies, one page of them."""
    refs = full_contact["companies"]["data"]
    page = positive_param(query.get("page"), 1)
    per_page = min(positive_param(query.get("per_page"), COMPANIES_PER_PAGE, "per_page"), 150)
    window, pages = page_numbers(len(refs), page, per_page, f"{url}?per_page={per_page}&page=")
    found = (companies.index(r["id"]) for r in refs[window])
    return {
        "type": "list",
        "companies": [companies.company(k, version) for k in found if k is not None],
        "pages": pages,
        "total_count": len(refs),
    }
