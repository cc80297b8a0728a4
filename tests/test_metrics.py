from hypothesis import given
from hypothesis import strategies as st

from intercom_enrichment.metrics import STATUSES, EnrichmentMetrics

counts = st.integers(min_value=0, max_value=10_000)


@st.composite
def batch_metrics(draw: st.DrawFn) -> EnrichmentMetrics:
    statuses = {f"status_{s}": draw(counts) for s in STATUSES}
    return EnrichmentMetrics(
        counts={"conversations_written": sum(statuses.values()), **statuses},
        api_requests=draw(counts),
        requests_by_endpoint={"contacts.search": draw(counts)},
    )


@given(listed_ok=counts, quarantined=counts, batches=st.lists(batch_metrics(), max_size=12))
def test_reduction_keeps_the_contract_invariants(
    listed_ok: int, quarantined: int, batches: list[EnrichmentMetrics]
) -> None:
    written = sum(b.conversations_written for b in batches)
    listing = EnrichmentMetrics(
        counts={
            "conversations_listed": written + quarantined,
            "conversations_quarantined": quarantined,
        }
    )
    total = EnrichmentMetrics.total([listing, *batches])
    assert total.invariant_violations() == []
    assert total.api_requests == sum(b.api_requests for b in batches)
    assert total.requests_by_endpoint.get("contacts.search", 0) == sum(
        b.requests_by_endpoint["contacts.search"] for b in batches
    )
    assert EnrichmentMetrics.total(reversed([listing, *batches])) == total  # order does not matter


def test_a_lost_conversation_breaks_the_invariant() -> None:
    m = EnrichmentMetrics(
        counts={"conversations_listed": 3, "conversations_written": 2, "status_enriched": 2}
    )
    assert m.invariant_violations() and "conversations_listed=3" in m.invariant_violations()[0]
    m = EnrichmentMetrics(
        counts={"conversations_listed": 2, "conversations_written": 2, "status_enriched": 1}
    )
    assert m.invariant_violations() and "status counts" in m.invariant_violations()[0]
