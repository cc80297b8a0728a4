"""Companies: who the customers' organisations are. One row per distinct company the window's
contacts reference (``contacts.company_ids``), read with ``GET /companies/{id}`` (the Intercom
id; OpenAPI 2.16:6203, schema ``company`` 2.16:24955; 404 ``company_not_found`` — the company
is gone: counted, never invented), or, when that takes fewer requests, picked out of ``POST
/companies/list`` (``listAllCompanies``, 2.16:6739; schema ``company_list``, whose ``data`` are
``company`` objects too).

Why by id first (docs/design.md, measured by benchmarks/companies.py): a window references a
few hundred or thousand of a workspace's companies; the list reads the whole workspace, "sorted
by the `last_request_at` field" (so it shifts while it is read), leaves out "companies who have
no associated users" and stops at 10,000. So the list is used only when the workspace holds at
most ``LIST_LIMIT`` companies and its pages are fewer than the ids still wanted; whatever it
does not bring is read by id, so it can save requests but never lose a company.
"""

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .common import (
    FLOAT,
    INT,
    LINEAGE,
    STR,
    STRS,
    TS,
    Attributes,
    Id,
    Lineage,
    Model,
    PlainId,
    Record,
    Tag,
    Unix,
    empty_if_null,
    json_text,
    schema_of,
    utc,
)
from .declaration import CurrentState, Endpoint, Table


class Plan(Model):
    id: Id | None = None
    name: str | None = None


class CompanyTags(Model):
    tags: list[Tag] = Field(default_factory=list)


class CompanySegments(Model):
    segments: list[Tag] = Field(default_factory=list)


class Company(Record):
    id: PlainId
    company_id: Id | None = None  # the customer's own id for it
    name: str | None = None
    plan: Annotated[Plan, BeforeValidator(empty_if_null)] = Field(default_factory=Plan)
    monthly_spend: float | None = None
    user_count: int | None = None
    session_count: int | None = None
    size: int | None = None
    industry: str | None = None
    website: str | None = None
    created_at: Unix | None = None
    updated_at: Unix | None = None
    remote_created_at: Unix | None = None
    last_request_at: Unix | None = None
    custom_attributes: Attributes = Field(default_factory=dict)
    tags: Annotated[CompanyTags, BeforeValidator(empty_if_null)] = Field(
        default_factory=CompanyTags
    )
    segments: Annotated[CompanySegments, BeforeValidator(empty_if_null)] = Field(
        default_factory=CompanySegments
    )


COMPANIES = Table(
    "companies",
    schema_of(
        ("company_id", STR, False),
        ("company_external_id", STR),
        ("name", STR),
        ("plan_name", STR),
        ("monthly_spend", FLOAT),
        ("user_count", INT),
        ("session_count", INT),
        ("size", INT),
        ("industry", STR),
        ("website", STR),
        ("created_at", TS),
        ("updated_at", TS),
        ("remote_created_at", TS),
        ("last_request_at", TS),
        ("custom_attributes", STR),
        ("tag_names", STRS),
        ("segment_names", STRS),
        *LINEAGE,
    ),
    key=("company_id",),
    day="window",
    # an organisation is not a person; its free-form attributes may name one
    free_form=("custom_attributes",),
    once_per_window=True,
)
COMPANIES_CURRENT = CurrentState(COMPANIES, partitioned=False)
GET_COMPANY = Endpoint("companies.get", "/companies/{id}")
LIST_COMPANIES = Endpoint("companies.list", "/companies/list", {"per_page": "50"})
LIST_LIMIT = 10_000  # "a limit of 10,000 Companies that can be returned" (2.16, listAllCompanies)
LIST_KEYS = ("data",)  # company_list
LIST_WORTH = 20  # fewer ids are read by id without asking: the list's first page would cost 5%+
KIND = "company"


def company_row(company: Company, lineage: Lineage) -> dict[str, Any]:
    return {
        "company_id": company.id,
        "company_external_id": company.company_id,
        "name": company.name,
        "plan_name": company.plan.name,
        "monthly_spend": company.monthly_spend,
        "user_count": company.user_count,
        "session_count": company.session_count,
        "size": company.size,
        "industry": company.industry,
        "website": company.website,
        "created_at": utc(company.created_at),
        "updated_at": utc(company.updated_at),
        "remote_created_at": utc(company.remote_created_at),
        "last_request_at": utc(company.last_request_at),
        "custom_attributes": json_text(company.custom_attributes),
        "tag_names": [t.name for t in company.tags.tags if t.name],
        "segment_names": [s.name for s in company.segments.segments if s.name],
        **lineage.columns(),
    }
