"""Deleted conversations: ``GET /conversations/deleted`` (2.16 only; OpenAPI 2.16:13521,
``listDeletedConversationIds``): page-number pages (``page``, ``per_page`` at most 60,
``pages_link`` with ``total_pages`` and a ``next`` URL), items ``deleted_conversation_item``
(``id``, ``deleted_at``, ``metrics_retained``) under ``conversations``. Before 2.16 it answers
400 ``intercom_version_invalid`` ("Requested resource is not available in current API
version."): deletions cannot be seen then, and the run says so.

Snapshot ``dimensions/deleted_conversations.parquet``; the run leaves the deleted ids out of
what it writes and purges them from every window file (output/purge.py).
"""

from .common import BOOL, STR, TS, Model, PlainId, Unix, schema_of, utc
from .declaration import Endpoint, Snapshot

DELETED_PER_PAGE = 60  # the documented maximum


class DeletedConversation(Model):
    id: PlainId
    deleted_at: Unix | None = None
    metrics_retained: bool | None = None


DELETED_CONVERSATIONS = Snapshot(
    "deleted_conversations",
    Endpoint("conversations.deleted", "/conversations/deleted", {"order": "desc"}),
    ("conversations",),
    DeletedConversation,
    lambda d: {
        "conversation_id": d.id,
        "deleted_at": utc(d.deleted_at),
        "metrics_retained": d.metrics_retained,
    },
    schema_of(
        ("conversation_id", STR, False),
        ("deleted_at", TS),
        ("metrics_retained", BOOL),
        ("extracted_at", TS, False),
    ),
    paging="number",
    per_page=DELETED_PER_PAGE,
    in_memory=True,
)
