"""Run metrics: a value with ``+``, produced by every task and reduced once at the end.

Each searched object's counters (listed, written, quarantined, one per ``enrichment_status``,
parts) are in ``counts`` under the names its declaration gives them (``MetricNames``: the
contract's ``conversations_listed``, ``status_enriched``, ``parts_written`` … for conversations;
``tickets_listed``, ``tickets_status_enriched``, ``ticket_parts_written`` … for tickets), and
the manifest lists them at its top level with the other counters.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from intercom_enrichment.objects.declaration import SearchedObject, Status
from intercom_enrichment.objects.registry import SEARCHED

STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class EnrichmentMetrics:
    counts: Mapping[str, int] = field(default_factory=dict)  # searched objects' counters
    contacts_unique: int = 0
    contacts_fetched: int = 0
    contacts_not_found: int = 0
    contact_lookups_failed: int = 0
    contacts_unresolvable: int = 0
    contact_lists_truncated: int = 0  # contacts with tags_truncated or companies_truncated
    contact_search_chunk_reductions: int = 0  # 400s to a contact search that halved the IN list
    contact_search_chunk_size: int = field(default=0, metadata={"combine": "min"})
    cursor_restarts: int = 0  # listings restarted after a rejected cursor
    segments_fetch_failed: int = 0
    companies_referenced: int = 0  # distinct companies the window's contacts name
    companies_fetched: int = 0
    companies_not_found: int = 0  # 404: gone, no row
    company_lookups_failed: int = 0  # still failing after the retries: the window is incomplete
    companies_quarantined: int = 0
    listing_pages: int = 0
    api_requests: int = 0
    api_retries: int = 0
    api_rate_limited: int = 0
    rate_limit_wait_seconds: float = 0.0
    requests_by_endpoint: Mapping[str, int] = field(default_factory=dict)
    dimension_rows: Mapping[str, int] = field(default_factory=dict)  # dimensions/<name>.parquet
    failure_reasons: Mapping[str, int] = field(default_factory=dict)
    # objects or snapshots that could not be read at all (e.g. 403: the token lacks the scope)
    unavailable: Mapping[str, int] = field(default_factory=dict)

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

    def count(self, name: str) -> int:
        """A searched object's counter by its name (0 when nothing counted it)."""
        return self.counts.get(name, 0)

    def status_counts(self, obj: SearchedObject) -> dict[str, int]:
        return {s.value: self.count(obj.metrics.of_status(s)) for s in Status}

    @property
    def conversations_listed(self) -> int:  # the contract's headline counters, by name
        return self.count("conversations_listed")

    @property
    def conversations_written(self) -> int:
        return self.count("conversations_written")

    def invariant_violations(self) -> list[str]:
        """The data contract's invariants, for every searched object; empty when they hold."""
        problems = []
        for obj in SEARCHED:
            names = obj.metrics
            listed, written = self.count(names.listed), self.count(names.written)
            accounted = written + self.count(names.quarantined) + self.count(names.deleted)
            if listed != accounted:
                problems.append(
                    f"{names.listed}={listed} != written+quarantined+deleted={accounted}"
                )
            statuses = sum(self.status_counts(obj).values())
            if statuses != written:
                problems.append(
                    f"{obj.kind} status counts sum to {statuses}, not {names.written}={written}"
                )
        return problems

    def to_dict(self) -> dict[str, Any]:
        """The manifest's metrics: every searched object's counters (zeros included) at the top
        level beside the other counters."""
        data = asdict(self)
        del data["counts"]
        objects = {name: self.count(name) for obj in SEARCHED for name in obj.metrics.names}
        data = {**objects, **data}
        data["rate_limit_wait_seconds"] = round(self.rate_limit_wait_seconds, 3)
        for name in ("requests_by_endpoint", "failure_reasons", "dimension_rows", "unavailable"):
            data[name] = dict(sorted(data[name].items()))
        return data
