"""Run metrics: a value with ``+``, produced by every task and reduced once at the end."""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATUSES = ("enriched", "no_contact", "contact_not_found", "contact_unresolvable", "failed")


@dataclass(frozen=True)
class EnrichmentMetrics:
    conversations_listed: int = 0
    conversations_written: int = 0
    conversations_quarantined: int = 0
    contacts_unique: int = 0
    contacts_fetched: int = 0
    contacts_not_found: int = 0
    contact_lookups_failed: int = 0
    contacts_unresolvable: int = 0
    parts_written: int = 0
    parts_fetch_failed: int = 0
    parts_quarantined: int = 0
    parts_incomplete: int = 0  # conversations with parts_truncated = true
    contact_lists_truncated: int = 0  # contacts with tags_truncated or companies_truncated
    contact_search_chunk_reductions: int = 0  # 400s to a contact search that halved the IN list
    contact_search_chunk_size: int = field(default=0, metadata={"combine": "min"})
    cursor_restarts: int = 0  # listings restarted after a rejected cursor
    segments_fetch_failed: int = 0
    listing_pages: int = 0
    api_requests: int = 0
    api_retries: int = 0
    api_rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0
    status_enriched: int = 0
    status_no_contact: int = 0
    status_contact_not_found: int = 0
    status_contact_unresolvable: int = 0
    status_failed: int = 0
    requests_by_endpoint: Mapping[str, int] = field(default_factory=dict)
    dimension_rows: Mapping[str, int] = field(default_factory=dict)  # dimensions/<name>.parquet
    failure_reasons: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: "EnrichmentMetrics") -> "EnrichmentMetrics":
        if not isinstance(other, EnrichmentMetrics):
            return NotImplemented
        values: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.metadata.get("combine") == "min":  # the smallest size in use, 0 = none
                values[f.name] = min(a, b) if a and b else a or b
            elif isinstance(a, Mapping):
                values[f.name] = dict(Counter(a) + Counter(b))
            else:
                values[f.name] = a + b
        return EnrichmentMetrics(**values)

    @classmethod
    def total(cls, parts: Iterable["EnrichmentMetrics"]) -> "EnrichmentMetrics":
        result = cls()
        for part in parts:
            result = result + part
        return result

    @property
    def status_counts(self) -> dict[str, int]:
        return {status: getattr(self, f"status_{status}") for status in STATUSES}

    def invariant_violations(self) -> list[str]:
        """The data contract's invariants; empty when they hold."""
        problems = []
        accounted = self.conversations_written + self.conversations_quarantined
        if self.conversations_listed != accounted:
            problems.append(
                f"conversations_listed={self.conversations_listed} != written+quarantined="
                f"{accounted}"
            )
        if sum(self.status_counts.values()) != self.conversations_written:
            problems.append(
                f"status counts sum to {sum(self.status_counts.values())}, "
                f"not conversations_written={self.conversations_written}"
            )
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rate_limit_wait_seconds"] = round(self.rate_limit_wait_seconds, 3)
        data["requests_by_endpoint"] = dict(sorted(self.requests_by_endpoint.items()))
        data["failure_reasons"] = dict(sorted(self.failure_reasons.items()))
        data["dimension_rows"] = dict(sorted(self.dimension_rows.items()))
        return data
