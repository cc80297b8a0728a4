"""The pyarrow schemas of the data contract (docs/data-contract.md), defined once.

Every file of a table has exactly its schema, whatever a batch happened to contain.
Bump ``SCHEMA_VERSION`` when a column is renamed, dropped or retyped.
"""

import pyarrow as pa

SCHEMA_VERSION = 1

TS = pa.timestamp("us", tz="UTC")
STR = pa.string()
INT = pa.int64()
BOOL = pa.bool_()
STRS = pa.list_(pa.string())


def _schema(*columns: tuple[str, pa.DataType] | tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema(
        [pa.field(c[0], c[1], nullable=c[2] if len(c) == 3 else True) for c in columns]
    )


CONTACT_FIELDS: list[tuple[str, pa.DataType]] = [
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

CONVERSATIONS = _schema(
    ("conversation_id", STR, False),
    ("created_at", TS, False),
    ("updated_at", TS, False),
    ("title", STR),
    ("state", STR),
    ("priority", STR),
    ("open", BOOL),
    ("read", BOOL),
    ("admin_assignee_id", STR),
    ("team_assignee_id", STR),
    ("waiting_since", TS),
    ("snoozed_until", TS),
    ("source_type", STR),
    ("source_delivered_as", STR),
    ("source_subject", STR),
    ("source_author_type", STR),
    ("source_author_id", STR),
    ("tag_names", STRS),
    ("contact_ids", STRS),
    ("contact_id", STR),
    *[(f"contact_{name}", dtype) for name, dtype in CONTACT_FIELDS],
    ("enrichment_status", STR, False),
    ("time_to_assignment", INT),
    ("time_to_admin_reply", INT),
    ("time_to_first_close", INT),
    ("median_time_to_reply", INT),
    ("count_reopens", INT),
    ("count_assignments", INT),
    ("count_conversation_parts", INT),
    ("first_admin_reply_at", TS),
    ("last_close_at", TS),
    ("rating", INT),
    ("rating_remark", STR),
    ("sla_name", STR),
    ("sla_status", STR),
    ("ai_agent_participated", BOOL),
    ("custom_attributes", STR),
    ("parts_total_count", INT),
    ("parts_truncated", BOOL),
    ("window_start", TS, False),
    ("window_end", TS, False),
    ("extracted_at", TS, False),
)

CONVERSATION_PARTS = _schema(
    ("conversation_id", STR, False),
    ("part_id", STR, False),
    ("part_type", STR),
    ("created_at", TS),
    ("updated_at", TS),
    ("author_type", STR),
    ("author_id", STR),
    ("author_name", STR),
    ("author_email", STR),
    ("body", STR),
    ("assigned_to_type", STR),
    ("assigned_to_id", STR),
    ("redacted", BOOL),
    ("window_start", TS, False),
    ("window_end", TS, False),
    ("extracted_at", TS, False),
)

CONTACTS = _schema(
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
    ("window_start", TS, False),
    ("window_end", TS, False),
    ("extracted_at", TS, False),
)

# Dimension snapshots (dimensions/<name>.parquet): whole tables, replaced atomically per run.
ADMINS = _schema(
    ("admin_id", STR, False),
    ("name", STR),
    ("email", STR),
    ("job_title", STR),
    ("away_mode_enabled", BOOL),
    ("team_ids", STRS),
    ("extracted_at", TS, False),
)
TEAMS = _schema(
    ("team_id", STR, False), ("name", STR), ("admin_ids", STRS), ("extracted_at", TS, False)
)
TAGS = _schema(("tag_id", STR, False), ("name", STR), ("extracted_at", TS, False))
SEGMENTS = _schema(
    ("segment_id", STR, False), ("name", STR), ("person_type", STR), ("extracted_at", TS, False)
)
DIMENSIONS: dict[str, pa.Schema] = {
    "admins": ADMINS,
    "teams": TEAMS,
    "tags": TAGS,
    "segments": SEGMENTS,
}

TABLES: dict[str, pa.Schema] = {
    "conversations": CONVERSATIONS,
    "conversation_parts": CONVERSATION_PARTS,
    "contacts": CONTACTS,
}


def to_table(rows: list[dict[str, object]], schema: pa.Schema) -> pa.Table:
    """Rows → a table of exactly ``schema`` (missing keys become nulls of the column's type).

    A key the schema does not name is a bug where the rows were built (a typo such as
    ``sla_stauts`` would otherwise be dropped silently and its column written null): it raises.
    """
    unknown = set().union(*rows) - set(schema.names)
    if unknown:
        raise ValueError(f"row keys not in the table's schema: {sorted(unknown)[:5]}")
    return pa.Table.from_pylist(rows, schema=schema)
