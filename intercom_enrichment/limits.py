"""Every limit that bounds a wait, a body or a loop, declared once.

Each ``Limit`` names its environment variable (or none, for fixed guards), its default and its
unit. ``IntercomSettings.from_env`` reads the tunable ones through ``limit_overrides``, the client
and the pagination guards read the values from the settings or from here, and the "Limits"
table of docs/operations.md is ``limits_table()`` verbatim (tests/test_limits.py checks it).
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

MAXIMUM = 10**7  # no limit is meant to reach 10^7 of its unit (almost four months of seconds)


@dataclass(frozen=True)
class Limit:
    name: str
    field: str  # IntercomSettings field it sets ("" for a fixed guard)
    env: str | None  # environment variable, None when the limit is fixed
    default: float
    unit: str
    meaning: str
    integer: bool = False
    minimum: float = 0.0  # smallest value accepted; 0 itself only with zero_ok
    zero_ok: bool = False

    def parse(self, raw: str) -> float | int:
        """The value of ``raw`` for this limit: finite, positive (or 0 where ``zero_ok``), at
        least ``minimum`` and below 10^7, or a ConfigError."""
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        low_ok = value >= self.minimum and (value > 0 or (self.zero_ok and value == 0))
        whole = not self.integer or value == int(value)
        if not (math.isfinite(value) and low_ok and value < MAXIMUM and whole):
            kind = "whole number" if self.integer else "number"
            sign = "non-negative" if self.zero_ok else "positive"
            floor = f" of at least {self.minimum:g}" if self.minimum > 0 else ""
            raise ConfigError(
                f"{self.env}={raw.strip()[:40]!r} is not a {sign} {kind}{floor} below 10^7"
            )
        return int(value) if self.integer else value

    def value(self, env: Mapping[str, str] | None = None) -> float:
        """This limit's value in ``env`` (default: the process environment), else its default."""
        env = os.environ if env is None else env
        raw = env.get(self.env, "").strip() if self.env else ""
        return float(self.parse(raw)) if raw else self.default


REQUEST_TIMEOUT = Limit(
    "request timeout",
    "timeout_seconds",
    "INTERCOM_REQUEST_TIMEOUT",
    60.0,
    "s",
    "whole of one attempt: connect, headers and body (not per read)",
)
MAX_WAIT = Limit(
    "longest wait",
    "max_wait_seconds",
    "INTERCOM_MAX_WAIT",
    900.0,
    "s",
    "longest rate-limit wait accepted (`Retry-After`, `X-RateLimit-Reset`, a shared permit); "
    "a hint further away fails the request at once, one that is not a finite non-negative "
    "number counts as absent",
)
MAX_RESPONSE_MB = Limit(
    "largest body",
    "max_response_mb",
    "INTERCOM_MAX_RESPONSE_MB",
    64.0,
    "MB",
    "largest response body, checked against `Content-Length` and counted while streaming",
)
MAX_ATTEMPTS = Limit(
    "attempts",
    "max_attempts",
    "INTERCOM_MAX_ATTEMPTS",
    6,
    "attempts",
    "attempts per request (1 = no retry); backoff between them at most 20 s",
    integer=True,
)
MAX_EMPTY_PAGES = Limit(
    "empty pages with a cursor",
    "",
    None,
    3,
    "pages",
    "empty search pages in a row that still name a next cursor before the listing stops",
    integer=True,
)
PAGE_SLACK = Limit(
    "extra pages",
    "",
    None,
    10,
    "pages",
    "pages a search may take beyond `ceil(total_count / per_page)` (duplicates, moved records)",
    integer=True,
)
MAX_PAGES_UNCOUNTED = Limit(
    "pages without a count",
    "",
    None,
    10_000,
    "pages",
    "pages of one search that reports no `total_count`",
    integer=True,
)
MAX_NUMBERED_PAGES = Limit(
    "pages of a numbered list",
    "",
    "INTERCOM_MAX_LIST_PAGES",
    500,
    "pages",
    "pages read of a list paged by number (`GET /conversations/deleted`, 60 a page: 30,000 "
    "deletions); beyond, the list counts as incomplete (its snapshot is not replaced)",
    integer=True,
)
MAX_ID_LENGTH = Limit(
    "id length",
    "",
    None,
    64,
    "characters",
    "longest id put in a URL path; ids are `[A-Za-z0-9_-]` only",
    integer=True,
)
LEASE_SECONDS = Limit(
    "lease period",
    "",
    "INTERCOM_LEASE_SECONDS",
    600.0,
    "s",
    "a writer's lease (of a window, or of the refresh) is renewed every third of it while the "
    "writer works; a killed writer's lease expires after it",
    minimum=5.0,
)
LEASE_WAIT = Limit(
    "window lease wait",
    "",
    "INTERCOM_LEASE_WAIT",
    0.0,
    "s",
    "how long a second run of a window waits for the window's lease before it fails",
    zero_ok=True,
)
REFRESH_WAIT = Limit(
    "refresh lease wait",
    "",
    "INTERCOM_REFRESH_WAIT",
    600.0,
    "s",
    "how long a refresh of `current/` and `marts/` waits while another refresh holds their "
    "lease, before it fails saying which run holds it",
    zero_ok=True,
)
PREFECT_STARTUP = Limit(
    "Prefect start-up",
    "",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    180.0,
    "s",
    "the CLI's bound on the start of Prefect's temporary API server (no `PREFECT_API_URL`); "
    "Prefect's own default, 20 s, is shorter than a first start on a small, busy machine. "
    "Your setting wins",
)
SHUTDOWN_GRACE = Limit(
    "shutdown grace",
    "",
    None,
    8.0,
    "s",
    "after SIGTERM/SIGINT, time for in-flight work to cancel and clean up before the CLI exits "
    "regardless",
)

LIMITS: tuple[Limit, ...] = (
    REQUEST_TIMEOUT,
    MAX_WAIT,
    MAX_RESPONSE_MB,
    MAX_ATTEMPTS,
    MAX_EMPTY_PAGES,
    PAGE_SLACK,
    MAX_PAGES_UNCOUNTED,
    MAX_NUMBERED_PAGES,
    MAX_ID_LENGTH,
    LEASE_SECONDS,
    LEASE_WAIT,
    REFRESH_WAIT,
    PREFECT_STARTUP,
    SHUTDOWN_GRACE,
)


def limit_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``IntercomSettings`` fields set in ``env``; a malformed value is a ConfigError."""
    found: dict[str, Any] = {}
    for limit in LIMITS:
        if limit.env and limit.field and (raw := env.get(limit.env, "").strip()):
            found[limit.field] = limit.parse(raw)
    return found


def _number(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def limits_table() -> str:
    """The "Limits" table of docs/operations.md (markdown)."""
    lines = ["| limit | environment | default | meaning |", "|---|---|---|---|"]
    for limit in LIMITS:
        env = f"`{limit.env}`" if limit.env else "fixed"
        lines.append(
            f"| {limit.name} | {env} | {_number(limit.default)} {limit.unit} | {limit.meaning} |"
        )
    return "\n".join(lines)
