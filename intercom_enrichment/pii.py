"""Personal data policy: keep, hash or drop contact email, name and phone, (with parts) part
bodies and author emails, and teammates' emails in dimensions/admins.parquet.

``hash`` is a keyed HMAC-SHA256 (hex): the same value under the same key always gives the same
digest, so joins and counts across runs still work, while the value cannot be recovered or
looked up without the key. The key comes from ``INTERCOM_PII_HMAC_KEY`` or a Prefect Secret
block, never from a parameter.
"""

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from .errors import ConfigError

PiiMode = Literal["keep", "hash", "drop"]
ENV_PII_KEY = "INTERCOM_PII_HMAC_KEY"

PII_COLUMNS: dict[str, tuple[str, ...]] = {
    "conversations": ("contact_email", "contact_name", "contact_phone"),
    "contacts": ("email", "name", "phone"),
    "conversation_parts": ("body", "author_email"),
    # Teammates' emails are staff personal data: protected like contact emails. Their names
    # are kept (the reason the table exists); docs/data-contract.md, "Personal data".
    "dimensions/admins.parquet": ("email",),
}


@dataclass(frozen=True)
class PiiPolicy:
    mode: PiiMode = "keep"
    key: SecretStr | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("keep", "hash", "drop"):
            raise ConfigError(f"pii must be keep, hash or drop, not {self.mode!r}")
        if self.mode == "hash" and not (self.key and self.key.get_secret_value()):
            raise ConfigError(f"pii=hash needs a key: set {ENV_PII_KEY} or name a Secret block")

    @classmethod
    def from_env(
        cls, mode: str, environ: Mapping[str, str] | None = None, *, key: str | None = None
    ) -> "PiiPolicy":
        env = os.environ if environ is None else environ
        key = key or env.get(ENV_PII_KEY) or None
        return cls(mode, SecretStr(key) if key and mode == "hash" else None)  # type: ignore[arg-type]

    def value(self, value: Any) -> Any:
        if value is None or self.mode == "keep":
            return value
        if self.mode == "drop":
            return None
        assert self.key is not None
        digest = hmac.new(self.key.get_secret_value().encode(), str(value).encode(), hashlib.sha256)
        return digest.hexdigest()

    def scrub_quarantine(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Quarantined raw records may hold personal data: keep them only under ``keep``."""
        if self.mode == "keep":
            return entries
        return [{**e, "record": None, "record_omitted": f"pii={self.mode}"} for e in entries]

    def apply(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Protect the personal columns of ``rows`` (of ``table``) in place."""
        if self.mode == "keep":
            return
        columns = PII_COLUMNS.get(table, ())
        for row in rows:
            for column in columns:
                if column in row:
                    row[column] = self.value(row[column])
