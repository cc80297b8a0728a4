"""Endpoint facts and connection settings, in one place.

Secrets enter here, once, at the edge: ``IntercomSettings.from_env`` (or a caller holding a value
from a Prefect Secret block) builds a ``SecretStr`` that is handed to the client's constructor.
Nothing deeper reads ``os.environ``.
"""

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from intercom_enrichment.errors import ConfigError
from intercom_enrichment.limits import (
    MAX_ATTEMPTS,
    MAX_RESPONSE_MB,
    MAX_WAIT,
    REQUEST_TIMEOUT,
    limit_overrides,
)

REGION_BASE_URLS: dict[str, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
# Intercom-Version: every published version (1.0–1.4, 2.0–2.17 and "Preview";
# developers.intercom.com, "Update your API version"). 2.16 is the newest stable one in
# intercom/Intercom-OpenAPI (descriptions/2.16/api.intercom.io.yaml) and the first whose
# GET /contacts/{id} answers a merged contact with 410 + Link: up to 2.15 it answers 404, so
# merges cannot be followed there.
DEFAULT_API_VERSION = "2.16"
KNOWN_API_VERSIONS = frozenset(
    [f"1.{minor}" for minor in range(5)] + [f"2.{minor}" for minor in range(18)] + ["Preview"]
)

SEARCH_PAGE_SIZE = 150  # POST /conversations/search: max per_page
# Intercom's default rate limit of an app: 10,000 calls a minute, enforced per 10 seconds
# (developers.intercom.com, "Rate limiting"). The shared budget's default and the benchmarks'
# simulated server use it; the sandbox mirrors it with its own constant (it stands alone).
CALLS_PER_10S = 1666
# POST /contacts/search: ids per `IN` filter. The size is undocumented (IN is "a shortcut for OR"
# and a group allows 15 filters), so 150 (the per_page cap) is only where the client starts: on a
# 400 it halves down to the floor and remembers what works (contacts.ChunkSizer).
CONTACT_SEARCH_MAX_IDS = 150
CONTACT_SEARCH_MIN_IDS = 5

ENV_TOKEN = "INTERCOM_ACCESS_TOKEN"
ENV_BASE_URL = "INTERCOM_BASE_URL"
ENV_REGION = "INTERCOM_REGION"
ENV_VERSION = "INTERCOM_VERSION"


_TOKEN = re.compile(r"[!-~]+")  # visible ASCII, no whitespace


def base_url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable API base URL, or None. Never includes the URL itself."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return "is not a valid URL (check the brackets of an IPv6 host and the port)"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not contain a user name or password (user:pass@)"
    if port == 0:
        return "has an invalid port"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


class IntercomSettings(BaseModel):
    """How to reach one Intercom app. ``token`` is a ``SecretStr``: it never prints."""

    model_config = ConfigDict(frozen=True)

    token: SecretStr
    base_url: str = REGION_BASE_URLS["us"]
    api_version: str = DEFAULT_API_VERSION
    # Limits: defaults, environment names and meanings in limits.py (docs/operations.md).
    timeout_seconds: float = Field(default=REQUEST_TIMEOUT.default, gt=0)
    max_wait_seconds: float = Field(default=MAX_WAIT.default, gt=0)
    max_response_mb: float = Field(default=MAX_RESPONSE_MB.default, gt=0)
    max_attempts: int = Field(default=int(MAX_ATTEMPTS.default), ge=1)
    max_concurrency: int = Field(default=32, ge=1, description="requests in flight per client")

    @field_validator("token")
    @classmethod
    def _visible_ascii(cls, value: SecretStr) -> SecretStr:
        """A bearer token is visible ASCII without whitespace (RFC 6750 ``b64token`` and more);
        anything else would break the Authorization header. Never echoed."""
        if not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError(
                f"the token ({ENV_TOKEN}) must be visible ASCII characters without spaces or "
                "line breaks (its value is not shown)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        """http(s), a host, a valid port, no user-info, query or fragment. The URL is not
        echoed: a user-info part would hold a password."""
        problem = base_url_problem(value)
        if problem:
            raise ValueError(f"{ENV_BASE_URL} {problem}")
        return value.rstrip("/")

    @property
    def public_base_url(self) -> str:
        """What a manifest may record: scheme, host (with its port) and path."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port is not None else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    @field_validator("api_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in KNOWN_API_VERSIONS:
            raise ValueError(
                f"unknown Intercom-Version {value!r} (expected 1.0 … 1.4, 2.0 … 2.17 or Preview)"
            )
        return value

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * 1024 * 1024)

    @property
    def budget_key(self) -> str:
        """Identifies the app's rate budget without revealing the token."""
        digest = hashlib.sha256(self.token.get_secret_value().encode()).hexdigest()[:12]
        return f"{self.base_url}#{digest}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, token: str | None = None
    ) -> "IntercomSettings":
        """Settings from ``INTERCOM_*`` variables; ``token`` (e.g. from a Secret block) wins."""
        env = os.environ if environ is None else environ
        token = token or env.get(ENV_TOKEN, "").strip()
        if not token:
            raise ConfigError(f"no Intercom token: set {ENV_TOKEN} or name a Prefect Secret block")
        base_url = env.get(ENV_BASE_URL, "").strip()
        if not base_url:
            region = env.get(ENV_REGION, "us").strip().lower() or "us"
            if region not in REGION_BASE_URLS:
                raise ConfigError(
                    f"{ENV_REGION}={region!r} is not one of {', '.join(REGION_BASE_URLS)}"
                )
            base_url = REGION_BASE_URLS[region]
        version = env.get(ENV_VERSION, "").strip() or DEFAULT_API_VERSION
        extra: dict[str, Any] = limit_overrides(env)
        try:
            return cls(token=SecretStr(token), base_url=base_url, api_version=version, **extra)
        except ValueError as exc:
            first = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
            raise ConfigError(f"invalid Intercom settings: {first}") from None
