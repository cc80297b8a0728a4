"""Configuration of the Intercom API sandbox: the world it generates and how it misbehaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

Boundary = Literal["inclusive", "strict"]
Order = Literal["ascending", "descending", "shuffled"]
FaultKind = Literal[
    "500",
    "502",
    "503",
    "408",
    "409",
    "403",
    "429",
    "drop",
    "slow",
    "malformed",
    "html",
    "invalid_cursor",
]

ENDPOINTS: tuple[str, ...] = (
    "conversations.search",
    "conversations.get",
    "contacts.get",
    "contacts.search",
    "contacts.segments",
    "contacts.tags",
    "contacts.companies",
    "admins.list",
    "teams.list",
    "tags.list",
    "segments.list",
    "me",
    "tickets.search",
    "tickets.get",
    "ticket_types.list",
    "ticket_states.list",
    "companies.get",
    "companies.list",
    "conversations.deleted",
    "conversations.attributes",
    "data_attributes.list",
)
"""Endpoint keys, used by statistics and by `FaultRule.endpoint`."""

FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

DEFAULT_WINDOW_START = datetime(2026, 10, 1, tzinfo=UTC)
API_VERSIONS: tuple[str, ...] = (
    *(f"1.{minor}" for minor in range(5)),
    *(f"2.{minor}" for minor in range(18)),
    "Preview",
)
"""Every published Intercom-Version (developers.intercom.com, "Update your API version")."""
V216_VERSIONS = frozenset({"2.16", "2.17", "Preview"})
"""Versions with the 2.16 formats, and 410 + Link for a merged contact (≤2.15: 404)."""
DEFAULT_API_VERSION = "2.14"


def at_least(version: str, minimum: str) -> bool:
    """Whether `version` is `minimum` or later (``Preview`` is the newest); both must be known."""
    return API_VERSIONS.index(version) >= API_VERSIONS.index(minimum)


DEFAULT_RATE_LIMIT = 1666
"""Intercom's default per-app limit: 10,000 calls per minute, enforced per 10 seconds (the
client's own constant is ``api.settings.CALLS_PER_10S``; the sandbox stands alone, so it
mirrors it; tests/test_layers.py checks that the two agree)."""
MAX_PARTS = 5000
"""Upper bound for `parts_max`: part ids are derived from (conversation, part number)."""


def _check_share(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value!r}")


@dataclass(frozen=True)
class FaultRule:
    """Inject a fault into matching requests.

    `endpoint` is one of `ENDPOINTS` or ``"*"``. Exactly one of `first_n` (fault the first n
    matching requests) and `probability` (fault each matching request with this probability,
    drawn from an RNG seeded by the sandbox seed) must be given. Kinds: ``"500"``, ``"502"``,
    ``"503"``, ``"408"``, ``"409"``, ``"429"`` answer with that status and an error body;
    ``"403"`` answers the spec's missing-scope error (403 ``forbidden``, "You do not have the
    required scope (read_…) to access this resource", Intercom-OpenAPI descriptions/2.16);
    ``"drop"`` closes the connection without a response; ``"slow"`` sleeps `slow_seconds` and
    then answers normally;
    ``"malformed"`` answers 200 with a truncated JSON body; ``"html"`` answers 200 with an HTML
    page; ``"invalid_cursor"`` answers the documented cursor error (400 ``client_error``,
    "Invalid starting_after param…") to requests that carry a cursor.
    """

    endpoint: str
    kind: FaultKind
    first_n: int | None = None
    probability: float | None = None
    slow_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.endpoint != "*" and self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; expected '*' or {ENDPOINTS}")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if (self.first_n is None) == (self.probability is None):
            raise ValueError("give exactly one of first_n and probability")
        if self.first_n is not None and self.first_n < 0:
            raise ValueError("first_n must be >= 0")
        if self.probability is not None:
            _check_share("probability", self.probability)
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds must be >= 0")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that shapes the sandbox's data and behaviour; equal configs, equal worlds.

    `window_end` defaults to `window_start` + 1 day; after construction it is always set.
    Conversations' `updated_at` are spread evenly over ``[window_start, window_end)``.
    `rate_limit` is the number of calls per fixed 10-second window (0 = unlimited).
    `contact_search_in_limit`: the most ids one ``id IN [...]`` contact search takes (None = no
    limit; Intercom documents none, but IN is a shortcut for OR and a group allows 15 filters);
    a longer list is answered 400 ``parameter_invalid``. `many_tags_share`: contacts with more
    than 10 tags and companies, which a contact record cuts to 10 with ``has_more``.

    `tickets` defaults to ``conversations // 4`` and `companies` to ``contacts // 5`` (at least
    20, so that a contact's up to 13 companies are distinct); after construction both are set.
    `deleted_conversations` is the share of conversations deleted before the sandbox starts
    (deterministic per id; default 0 because the existing tests take every generated
    conversation to be searchable); more can be deleted while it runs (deletions.py).
    """

    seed: int = 7
    conversations: int = 2000
    contacts: int = 600
    window_start: datetime = DEFAULT_WINDOW_START
    window_end: datetime | None = None
    deleted_contact_share: float = 0.02
    merged_contact_share: float = 0.01
    unsearchable_contact_share: float = 0.02
    no_contact_share: float = 0.05
    multi_contact_share: float = 0.10
    contact_skew: float = 1.1
    parts_min: int = 1
    parts_max: int = 8
    truncated_parts_share: float = 0.002
    boundary: Boundary = "inclusive"
    order: Order = "ascending"
    rate_limit: int = DEFAULT_RATE_LIMIT
    retry_after_header: bool = False
    latency_ms: tuple[int, int] = (0, 0)
    token: str = "sandbox-token"
    duplicate_across_pages: bool = False
    contact_search_in_limit: int | None = None
    many_tags_share: float = 0.02
    tickets: int | None = None
    companies: int | None = None
    deleted_conversations: float = 0.0
    faults: tuple[FaultRule, ...] = ()

    def __post_init__(self) -> None:
        if self.window_start.tzinfo is None:
            raise ValueError("window_start must be timezone-aware")
        if self.window_end is None:
            object.__setattr__(self, "window_end", self.window_start + timedelta(days=1))
        elif self.window_end.tzinfo is None:
            raise ValueError("window_end must be timezone-aware")
        if self.end_ts <= self.start_ts:
            raise ValueError("window_end must be at least one second after window_start")
        if self.tickets is None:
            object.__setattr__(self, "tickets", self.conversations // 4)
        if self.companies is None:
            object.__setattr__(self, "companies", max(20, self.contacts // 5))
        if min(self.conversations, self.contacts, self.ticket_count, self.company_count) < 0:
            raise ValueError("conversations, contacts, tickets and companies must be >= 0")
        for name in (
            "deleted_contact_share",
            "merged_contact_share",
            "unsearchable_contact_share",
            "no_contact_share",
            "multi_contact_share",
            "truncated_parts_share",
            "many_tags_share",
            "deleted_conversations",
        ):
            _check_share(name, getattr(self, name))
        statuses = (
            self.deleted_contact_share + self.merged_contact_share + self.unsearchable_contact_share
        )
        if statuses > 1.0:
            raise ValueError("deleted + merged + unsearchable contact shares exceed 1")
        if self.no_contact_share + self.multi_contact_share > 1.0:
            raise ValueError("no_contact_share + multi_contact_share exceed 1")
        if self.contact_skew < 0:
            raise ValueError("contact_skew must be >= 0")
        if not 0 <= self.parts_min <= self.parts_max <= MAX_PARTS:
            raise ValueError(f"need 0 <= parts_min <= parts_max <= {MAX_PARTS}")
        if self.boundary not in ("inclusive", "strict"):
            raise ValueError(f"boundary must be 'inclusive' or 'strict', got {self.boundary!r}")
        if self.order not in ("ascending", "descending", "shuffled"):
            raise ValueError(f"unknown order {self.order!r}")
        if self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 (0 = unlimited)")
        low, high = self.latency_ms
        if not 0 <= low <= high:
            raise ValueError("latency_ms must be (low, high) with 0 <= low <= high")
        if self.contact_search_in_limit is not None and self.contact_search_in_limit < 1:
            raise ValueError("contact_search_in_limit must be >= 1 (None = no limit)")
        if not self.token:
            raise ValueError("token must not be empty")

    @property
    def start_ts(self) -> int:
        """`window_start` as a UNIX timestamp."""
        return int(self.window_start.timestamp())

    @property
    def ticket_count(self) -> int:
        """`tickets`, always set after construction."""
        assert self.tickets is not None  # set by __post_init__
        return self.tickets

    @property
    def company_count(self) -> int:
        """`companies`, always set after construction."""
        assert self.companies is not None  # set by __post_init__
        return self.companies

    @property
    def end_ts(self) -> int:
        """`window_end` as a UNIX timestamp (exclusive)."""
        assert self.window_end is not None  # set by __post_init__
        return int(self.window_end.timestamp())
