"""Every object the tool reads, listed once; what iterates over objects asks here.

Adding an object is a module of its own beside this one (its model, schema, rows and
declaration), a line here, its SQL files in ``marts/`` if it has current state or marts, its
sandbox route and its tests (docs/design.md, "Adding an object").
"""

from .attributes import COMPANY_ATTRIBUTES, CONTACT_ATTRIBUTES, CONVERSATION_ATTRIBUTES
from .companies import COMPANIES, COMPANIES_CURRENT
from .contacts import CONTACTS, CONTACTS_CURRENT
from .conversations import CONVERSATION
from .declaration import CurrentState, SearchedObject, Snapshot, Table
from .deletions import DELETED_CONVERSATIONS
from .tickets import TICKET, TICKET_STATES, TICKET_TYPES
from .workspace import ADMINS, SEGMENTS, TAGS, TEAMS

# Bump when a column is renamed, dropped or retyped (docs/data-contract.md).
SCHEMA_VERSION = 1

SEARCHED: tuple[SearchedObject, ...] = (CONVERSATION, TICKET)
"""Objects listed by searching ``updated_at``, in the order a window processes them."""

SNAPSHOTS: tuple[Snapshot, ...] = (
    ADMINS,
    TEAMS,
    TAGS,
    SEGMENTS,
    TICKET_TYPES,
    TICKET_STATES,
    CONVERSATION_ATTRIBUTES,
    CONTACT_ATTRIBUTES,
    COMPANY_ATTRIBUTES,
    DELETED_CONVERSATIONS,
)
"""Workspace lists replaced whole by every window run (``dimensions/<name>.parquet``)."""

TABLES: dict[str, Table] = {
    **{t.name: t for obj in SEARCHED for t in (obj.table, obj.parts)},
    CONTACTS.name: CONTACTS,
    COMPANIES.name: COMPANIES,
}
"""Every table of the window files, by name."""

DIMENSIONS: dict[str, Snapshot] = {s.name: s for s in SNAPSHOTS}

CURRENT: tuple[CurrentState, ...] = (
    *(o.current for o in SEARCHED),
    CONTACTS_CURRENT,
    COMPANIES_CURRENT,
)
"""Every current table a refresh keeps (``current/``), each with its marts."""
