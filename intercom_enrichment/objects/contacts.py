"""Contacts: who the customer is. Looked up by id for the objects of a window (bulk
``POST /contacts/search``, ``GET /contacts/{id}``; ``extract/lookup.py``), written once per
window to ``contacts``, and as the primary contact's details on every searched object's row."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .common import (
    BOOL,
    LINEAGE,
    STR,
    STRS,
    TS,
    AssigneeId,
    Attributes,
    Column,
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
from .declaration import CurrentState, Table


class Location(Model):
    country: str | None = None
    region: str | None = None
    city: str | None = None
    country_code: str | None = None
    continent_code: str | None = None


class RefList(Model):
    """A contact's ``tags`` / ``companies``: references ``{type, id, url}`` without names, at most
    10 of them, with ``has_more`` when there are more (Intercom-OpenAPI descriptions/2.16,
    contact schema; names come from GET /tags, full lists from GET /contacts/{id}/tags and
    /companies). A ``name``, where a server sends one, is kept as a fallback."""

    data: list[Tag] = Field(default_factory=list)
    has_more: bool | None = None
    total_count: int | None = None

    @property
    def ids(self) -> list[str]:
        return list(dict.fromkeys(item.id for item in self.data if item.id))

    @property
    def cut(self) -> bool:
        """Whether the list says it is incomplete."""
        return bool(self.has_more) or (self.total_count or 0) > len(self.data)


class Contact(Record):
    id: PlainId
    external_id: Id | None = None
    role: str | None = None
    email: str | None = None
    email_domain: str | None = None
    phone: str | None = None
    name: str | None = None
    owner_id: AssigneeId = None
    created_at: Unix | None = None
    updated_at: Unix | None = None
    signed_up_at: Unix | None = None
    last_seen_at: Unix | None = None
    last_replied_at: Unix | None = None
    last_contacted_at: Unix | None = None
    browser: str | None = None
    os: str | None = None
    language_override: str | None = None
    location: Location | None = None
    custom_attributes: Attributes = Field(default_factory=dict)
    tags: Annotated[RefList, BeforeValidator(empty_if_null)] = Field(default_factory=RefList)
    companies: Annotated[RefList, BeforeValidator(empty_if_null)] = Field(default_factory=RefList)


# The contact columns every searched object's row carries (prefixed ``contact_``) and the
# contacts table (unprefixed).
CONTACT_FIELDS: list[tuple[str, Any]] = [
    ("external_id", STR),
    ("email", STR),
    ("name", STR),
    ("phone", STR),
    ("role", STR),
    ("country", STR),
    ("city", STR),
    ("created_at", TS),
    ("last_seen_at", TS),
    ("custom_attributes", STR),
    ("company_ids", STRS),
    ("segment_names", STRS),
]
CONTACT_DETAIL_COLUMNS = tuple(name for name, _ in CONTACT_FIELDS)
# Who a contact is; under pii=hash|drop protected wherever they appear (docs/data-contract.md).
CONTACT_PERSONAL = ("email", "name", "phone", "external_id")


def contact_columns(prefix: str = "contact_") -> list[Column]:
    """The primary contact's columns on a searched object's row."""
    return [(f"{prefix}{name}", dtype) for name, dtype in CONTACT_FIELDS]


CONTACT_COLUMNS_PERSONAL = tuple(f"contact_{name}" for name in CONTACT_PERSONAL)
CONTACT_COLUMNS_FREE_FORM = ("contact_custom_attributes",)

CONTACTS = Table(
    "contacts",
    schema_of(
        ("contact_id", STR, False),
        *CONTACT_FIELDS,
        ("email_domain", STR),
        ("region", STR),
        ("country_code", STR),
        ("owner_id", STR),
        ("updated_at", TS),
        ("signed_up_at", TS),
        ("last_replied_at", TS),
        ("last_contacted_at", TS),
        ("browser", STR),
        ("os", STR),
        ("language_override", STR),
        ("tag_names", STRS),
        ("tag_ids", STRS),
        ("tags_truncated", BOOL),
        ("companies_truncated", BOOL),
        *LINEAGE,
    ),
    key=("contact_id",),
    day="window",
    personal=CONTACT_PERSONAL,
    free_form=("custom_attributes",),
    once_per_window=True,
)
CONTACTS_CURRENT = CurrentState(CONTACTS, partitioned=False)


@dataclass(frozen=True)
class ContactLists:
    """A contact's tags and companies, complete where they could be: ``*_truncated`` says a list
    is still cut (the contact said ``has_more`` and the full list could not be fetched)."""

    tag_ids: list[str]
    tag_names: list[str]
    company_ids: list[str]
    tags_truncated: bool
    companies_truncated: bool

    @classmethod
    def of(
        cls,
        contact: Contact,
        *,
        tag_names: Mapping[str, str],
        full_tags: list[Tag] | None = None,
        full_company_ids: list[str] | None = None,
    ) -> "ContactLists":
        """Tag names through the tag snapshot (``tag_names``: id → name); a name the reference
        itself carries is the fallback; an id with no known name keeps its id, not its name."""
        tags = full_tags if full_tags is not None else contact.tags.data
        ids = list(dict.fromkeys(t.id for t in tags if t.id))
        named = {t.id: t.name for t in tags if t.id and t.name}
        names = [n for n in (tag_names.get(i) or named.get(i) for i in ids) if n]
        companies = full_company_ids if full_company_ids is not None else contact.companies.ids
        return cls(
            tag_ids=ids,
            tag_names=names,
            company_ids=companies,
            tags_truncated=full_tags is None and contact.tags.cut,
            companies_truncated=full_company_ids is None and contact.companies.cut,
        )


def contact_details(
    contact: Contact | None,
    segments: list[str] | None = None,
    lists: ContactLists | None = None,
) -> dict[str, Any]:
    """The contact columns shared by the contacts table and every searched object's row
    (unprefixed names); ``lists`` is given with every contact (``ContactLists.of``: tag names
    need the run's tag map)."""
    if contact is None:
        return dict.fromkeys(CONTACT_DETAIL_COLUMNS)
    assert lists is not None, "a contact's row needs its ContactLists"
    location = contact.location
    return {
        "external_id": contact.external_id,
        "email": contact.email,
        "name": contact.name,
        "phone": contact.phone,
        "role": contact.role,
        "country": location.country if location else None,
        "city": location.city if location else None,
        "created_at": utc(contact.created_at),
        "last_seen_at": utc(contact.last_seen_at),
        "custom_attributes": json_text(contact.custom_attributes),
        "company_ids": lists.company_ids,
        "segment_names": segments,
    }


def prefixed(details: dict[str, Any], prefix: str = "contact_") -> dict[str, Any]:
    """``contact_details`` as a searched object's row carries them."""
    return {f"{prefix}{name}": value for name, value in details.items()}


def contact_row(
    contact: Contact,
    lineage: Lineage,
    segments: list[str] | None,
    lists: ContactLists,
) -> dict[str, Any]:
    location = contact.location
    return {
        "contact_id": contact.id,
        **contact_details(contact, segments, lists),
        "email_domain": contact.email_domain,
        "region": location.region if location else None,
        "country_code": location.country_code if location else None,
        "owner_id": contact.owner_id,
        "updated_at": utc(contact.updated_at),
        "signed_up_at": utc(contact.signed_up_at),
        "last_replied_at": utc(contact.last_replied_at),
        "last_contacted_at": utc(contact.last_contacted_at),
        "browser": contact.browser,
        "os": contact.os,
        "language_override": contact.language_override,
        "tag_names": lists.tag_names,
        "tag_ids": lists.tag_ids,
        "tags_truncated": lists.tags_truncated,
        "companies_truncated": lists.companies_truncated,
        **lineage.columns(),
    }
