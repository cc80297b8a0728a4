"""The workspace's own lists, snapshotted whole by every window run
(``dimensions/<name>.parquet``): teammates, teams, tags and segments — the names an analyst
joins on. ``GET /admins`` (``admin.list``), ``GET /teams`` (``team.list``), ``GET /tags``
(``list``, items under ``data``) and ``GET /segments`` (``segment.list``), Intercom-OpenAPI
descriptions/2.16/api.intercom.io.yaml; none is paged there.

Teammates are people: under pii=hash|drop their names and emails are protected like a
contact's (docs/data-contract.md, "Personal data").
"""

from pydantic import Field

from .common import BOOL, STR, STRS, TS, Id, Ids, Model, Record, Tag, schema_of
from .declaration import Endpoint, Snapshot


class Segment(Record):
    id: Id
    name: str | None = None
    person_type: str | None = None


class Admin(Model):
    """An item of GET /admins (``admin.list``)."""

    id: Id
    name: str | None = None
    email: str | None = None
    job_title: str | None = None
    away_mode_enabled: bool | None = None
    team_ids: Ids = Field(default_factory=list)


class Team(Model):
    """An item of GET /teams (``team.list``)."""

    id: Id
    name: str | None = None
    admin_ids: Ids = Field(default_factory=list)


EXTRACTED_AT = ("extracted_at", TS, False)

ADMINS = Snapshot(
    "admins",
    Endpoint("admins.list", "/admins"),
    ("admins",),
    Admin,
    lambda a: {
        "admin_id": a.id,
        "name": a.name,
        "email": a.email,
        "job_title": a.job_title,
        "away_mode_enabled": a.away_mode_enabled,
        "team_ids": list(dict.fromkeys(a.team_ids)),
    },
    schema_of(
        ("admin_id", STR, False),
        ("name", STR),
        ("email", STR),
        ("job_title", STR),
        ("away_mode_enabled", BOOL),
        ("team_ids", STRS),
        EXTRACTED_AT,
    ),
    personal=("name", "email"),
)
TEAMS = Snapshot(
    "teams",
    Endpoint("teams.list", "/teams"),
    ("teams",),
    Team,
    lambda t: {"team_id": t.id, "name": t.name, "admin_ids": list(dict.fromkeys(t.admin_ids))},
    schema_of(("team_id", STR, False), ("name", STR), ("admin_ids", STRS), EXTRACTED_AT),
)
TAGS = Snapshot(
    "tags",
    Endpoint("tags.list", "/tags"),
    ("data",),
    Tag,
    lambda t: {"tag_id": t.id, "name": t.name},
    schema_of(("tag_id", STR, False), ("name", STR), EXTRACTED_AT),
    in_memory=True,  # contacts' tags are references without names
)
SEGMENTS = Snapshot(
    "segments",
    Endpoint("segments.list", "/segments"),
    ("segments",),
    Segment,
    lambda s: {"segment_id": s.id, "name": s.name, "person_type": s.person_type},
    schema_of(("segment_id", STR, False), ("name", STR), ("person_type", STR), EXTRACTED_AT),
)
