"""Attribute definitions, so that the JSON of ``custom_attributes`` has labels and types an
analyst can join: snapshots of ``GET /conversations/attributes`` (2.16 only; schema
``conversation_attribute_list``, OpenAPI 2.16:13615) and ``GET /data_attributes`` with
``model=contact`` and ``model=company`` (schema ``data_attribute_list``, 2.16:14654; 2.16
refuses ``model=conversation`` with 422). Neither is paged. Before 2.16 the conversation list
answers 400 ``intercom_version_invalid``: its snapshot is then not replaced (reported).

A conversation attribute's ``id`` is an integer; a data attribute has an ``id`` only when it is
custom, so data attributes are keyed by ``full_name`` (``custom_attributes.<name>`` for custom
ones), unique within a model.
"""

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .common import BOOL, STR, STRS, TS, Id, Model, Unix, schema_of, utc
from .declaration import Endpoint, Snapshot


def _labels(value: Any) -> Any:
    """``options``: labels (data attributes) or ``{id, label, archived}`` (conversation ones)."""
    if not isinstance(value, list):
        return []
    return [o.get("label") if isinstance(o, dict) else o for o in value]


Options = Annotated[list[str | None], BeforeValidator(_labels)]


class ConversationAttribute(Model):
    id: Id
    name: str | None = None
    description: str | None = None
    data_type: str | None = None
    required: bool | None = None
    archived: bool | None = None
    options: Options = Field(default_factory=list)
    created_at: Unix | None = None
    updated_at: Unix | None = None


class DataAttribute(Model):
    full_name: str
    id: Id | None = None
    model: str | None = None
    name: str | None = None
    label: str | None = None
    description: str | None = None
    data_type: str | None = None
    custom: bool | None = None
    archived: bool | None = None
    options: Options = Field(default_factory=list)
    created_at: Unix | None = None
    updated_at: Unix | None = None


EXTRACTED_AT = ("extracted_at", TS, False)

CONVERSATION_ATTRIBUTES = Snapshot(
    "conversation_attributes",
    Endpoint("conversations.attributes", "/conversations/attributes"),
    ("data",),
    ConversationAttribute,
    lambda a: {
        "attribute_id": a.id,
        "name": a.name,
        "description": a.description,
        "data_type": a.data_type,
        "required": a.required,
        "archived": a.archived,
        "options": [o for o in a.options if o is not None],
        "created_at": utc(a.created_at),
        "updated_at": utc(a.updated_at),
    },
    schema_of(
        ("attribute_id", STR, False),
        ("name", STR),
        ("description", STR),
        ("data_type", STR),
        ("required", BOOL),
        ("archived", BOOL),
        ("options", STRS),
        ("created_at", TS),
        ("updated_at", TS),
        EXTRACTED_AT,
    ),
)


def _data_attributes(model: str) -> Snapshot:
    return Snapshot(
        f"{model}_attributes",
        Endpoint("data_attributes.list", "/data_attributes", {"model": model}),
        ("data",),
        DataAttribute,
        lambda a: {
            "full_name": a.full_name,
            "attribute_id": a.id,
            "name": a.name,
            "label": a.label,
            "description": a.description,
            "data_type": a.data_type,
            "custom": a.custom,
            "archived": a.archived,
            "options": [o for o in a.options if o is not None],
            "created_at": utc(a.created_at),
            "updated_at": utc(a.updated_at),
        },
        schema_of(
            ("full_name", STR, False),
            ("attribute_id", STR),
            ("name", STR),
            ("label", STR),
            ("description", STR),
            ("data_type", STR),
            ("custom", BOOL),
            ("archived", BOOL),
            ("options", STRS),
            ("created_at", TS),
            ("updated_at", TS),
            EXTRACTED_AT,
        ),
    )


CONTACT_ATTRIBUTES = _data_attributes("contact")
COMPANY_ATTRIBUTES = _data_attributes("company")
