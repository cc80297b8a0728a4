"""A synthetic output folder: daily window files with the real schema, plus their manifests.

Vectorised (numpy + pyarrow), so millions of rows take seconds. Each day is one window file,
as a daily backfill writes it: about 80 % of its rows are conversations created that day, the
rest are later updates of conversations created in the previous 30 days (so the same id is
in several files, and ``current/`` must keep its latest row). Contacts: one file per window
with the distinct primary contacts of its conversations.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from intercom_enrichment.objects.common import TS
from intercom_enrichment.objects.contacts import CONTACTS
from intercom_enrichment.objects.conversations import CONVERSATIONS
from intercom_enrichment.windows import Window

START = datetime(2025, 10, 1, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000
REUPDATE_SHARE = 0.2
ADMIN_IDS = [str(991267600 + k) for k in range(12)]
TEAM_IDS = [str(5017690 + k) for k in range(5)]
TAGS = ["Billing", "Bug", "Feature request", "VIP", "Churn risk", "Onboarding"]
STATES = ["closed", "open", "snoozed"]
TITLES = ["Cannot log in", "Refund for last invoice", "How do I export my data?", None]
COUNTRIES = ["United States", "Ireland", "Germany", "France", "Japan", "Brazil"]
CUSTOM = ['{"issue_type":"billing"}', '{"issue_type":"bug","order_value":120}', "{}"]


@dataclass
class History:
    """Generator state carried from day to day: each conversation's creation time."""

    rng: np.random.Generator
    contacts: int
    created_us: np.ndarray  # by conversation index
    count: int = 0


def _pick(rng: np.random.Generator, values: Sequence[str | None], n: int) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(rng.integers(0, len(values), n)))


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _with_nulls(values: pa.Array, rng: np.random.Generator, share: float) -> pa.Array:
    mask = pa.array(rng.random(len(values)) < share)
    return pc.if_else(mask, pa.nulls(len(values), values.type), values)


def _conversations(
    h: History, day: int, rows: int, window: Window, extracted: datetime
) -> pa.Table:
    rng = h.rng
    day_us = int(START.timestamp() * 1_000_000) + day * DAY_US
    fresh = rows - int(rows * REUPDATE_SHARE) if day else rows
    new_ids = np.arange(h.count, h.count + fresh)
    created_new = day_us + (rng.random(fresh) * 0.9 * DAY_US).astype(np.int64)
    h.created_us[h.count : h.count + fresh] = created_new
    recent_first = max(0, h.count - 30 * rows)
    older = rows - fresh
    old_ids = (
        rng.choice(
            np.arange(recent_first, h.count), size=min(older, h.count - recent_first), replace=False
        )
        if older and h.count
        else np.array([], np.int64)
    )
    h.count += fresh
    ids = np.concatenate([new_ids, old_ids]).astype(np.int64)
    created = h.created_us[ids]
    updated = np.maximum(created, day_us) + (
        rng.random(len(ids)) * (day_us + DAY_US - np.maximum(created, day_us))
    ).astype(np.int64)
    updated = np.minimum(updated, day_us + DAY_US - 1)
    n = len(ids)
    contact = rng.integers(0, h.contacts, n)
    states = _pick(rng, STATES, n)
    closed = pc.equal(states, "closed")
    reply = rng.integers(30, 86_400, n)
    tags_flat = _pick(rng, TAGS, n)
    tag_counts = rng.choice([0, 0, 1, 1, 2], n) if n else np.array([], np.int64)
    offsets = np.concatenate([[0], np.cumsum(tag_counts)]).astype(np.int32)
    tag_values = _pick(rng, TAGS, int(offsets[-1]))
    del tags_flat
    contact_ids = _ids("c", contact)
    columns = {
        "conversation_id": _ids("", ids + 100_000_000),
        "created_at": pa.array(created).cast(TS),
        "updated_at": pa.array(updated).cast(TS),
        "title": _pick(rng, TITLES, n),
        "state": states,
        "priority": _pick(rng, ["not_priority", "priority"], n),
        "open": pc.invert(closed),
        "read": pa.array(rng.random(n) < 0.7),
        "admin_assignee_id": _with_nulls(_pick(rng, ADMIN_IDS, n), rng, 0.2),
        "team_assignee_id": _with_nulls(_pick(rng, TEAM_IDS, n), rng, 0.3),
        "source_type": _pick(rng, ["conversation", "email"], n),
        "source_delivered_as": _pick(rng, ["customer_initiated", "admin_initiated"], n),
        "source_author_type": _pick(rng, ["user", "admin"], n),
        "source_author_id": contact_ids,
        "tag_names": pa.ListArray.from_arrays(pa.array(offsets), tag_values),
        "contact_ids": pa.ListArray.from_arrays(
            pa.array(np.arange(n + 1, dtype=np.int32)), contact_ids
        ),
        "contact_id": contact_ids,
        "contact_email": _ids("user", contact).cast(pa.string()),
        "contact_name": _pick(rng, ["Ada Lovelace", "Ben Okafor", "Chloé Müller"], n),
        "contact_role": _pick(rng, ["user", "lead"], n),
        "contact_country": _pick(rng, COUNTRIES, n),
        "contact_custom_attributes": _pick(rng, CUSTOM, n),
        "enrichment_status": _pick(rng, ["enriched"] * 19 + ["contact_not_found"], n),
        "time_to_assignment": pa.array(rng.integers(0, 3_600, n)),
        "time_to_admin_reply": pa.array(reply),
        "time_to_first_close": pc.if_else(
            closed, pa.array(reply + rng.integers(60, 86_400, n)), None
        ),
        "median_time_to_reply": pa.array(rng.integers(30, 3_600, n)),
        "count_reopens": pa.array(rng.choice([0, 0, 0, 1, 2], n)),
        "count_assignments": pa.array(rng.integers(0, 3, n)),
        "count_conversation_parts": pa.array(rng.integers(1, 9, n)),
        "rating": _with_nulls(pa.array(rng.integers(1, 6, n)), rng, 0.75),
        "ai_agent_participated": pa.array(rng.random(n) < 0.2),
        "custom_attributes": _pick(rng, CUSTOM, n),
        "window_start": pa.array([window.start] * n, TS),
        "window_end": pa.array([window.end] * n, TS),
        "extracted_at": pa.array([extracted] * n, TS),
    }
    arrays = [
        columns[f.name].cast(f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in CONVERSATIONS.schema
    ]
    return pa.Table.from_arrays(arrays, schema=CONVERSATIONS.schema)


def _contacts(conversations: pa.Table, window: Window, extracted: datetime) -> pa.Table:
    ids = pc.unique(conversations.column("contact_id").combine_chunks())
    n = len(ids)
    columns = {
        "contact_id": ids,
        "email": pc.binary_join_element_wise(ids, "@example.com", ""),
        "name": pa.array(["Contact"] * n, pa.string()),
        "updated_at": pa.array([window.end - timedelta(seconds=1)] * n, TS),
        "window_start": pa.array([window.start] * n, TS),
        "window_end": pa.array([window.end] * n, TS),
        "extracted_at": pa.array([extracted] * n, TS),
    }
    arrays = [columns.get(f.name, pa.nulls(n, f.type)).cast(f.type) for f in CONTACTS.schema]
    return pa.Table.from_arrays(arrays, schema=CONTACTS.schema)


def write_window(output: Path, h: History, window: Window, day: int, rows: int) -> int:
    """One window's conversations and contacts files and its manifest; returns its rows."""
    extracted = window.end + timedelta(minutes=5)
    conversations = _conversations(h, day, rows, window, extracted)
    contacts = _contacts(conversations, window, extracted)
    files = []
    for table, data in (("conversations", conversations), ("contacts", contacts)):
        rel = f"{table}/updated_date={window.start.date().isoformat()}/{window.key}.parquet"
        (output / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, output / rel, compression="zstd")
        files.append({"table": table, "path": rel, "rows": data.num_rows})
    manifest = {
        "status": "completed",
        "window": window.key,
        "files": files,
        "finished_at": extracted.isoformat(),
    }
    (output / "_runs").mkdir(exist_ok=True)
    (output / "_runs" / f"{window.key}.json").write_text(json.dumps(manifest))
    return conversations.num_rows


def generate(output: Path, rows: int, days: int = 365, seed: int = 11) -> History:
    """``rows`` conversation rows in ``days`` daily windows from START."""
    per_day = max(rows // days, 1)
    h = History(np.random.default_rng(seed), max(rows // 3, 1), np.zeros(rows, np.int64))
    for day in range(days):
        window = Window(START + timedelta(days=day), START + timedelta(days=day + 1))
        write_window(output, h, window, day, per_day)
    return h


def add_hour(output: Path, h: History, days: int, rows: int) -> int:
    """One hourly window right after the history (the next scheduled run)."""
    day_start = START + timedelta(days=days)
    window = Window(day_start, day_start + timedelta(hours=1))
    extra = np.zeros(rows, np.int64)
    h.created_us = np.concatenate([h.created_us[: h.count], extra])
    return write_window(output, h, window, days, rows)
