"""Personal data policy: keep, hash or drop every column that can identify a person.

Which columns are personal is declared with each table (``objects``: ``Table.personal`` and
``Table.free_form``, ``Snapshot.personal``) and passed to ``PiiPolicy.apply``: who a person is —
a contact's email, name, phone and external id, wherever they appear, a part author's name and
email whatever the author's type (user, lead, admin, bot, team), teammates' names and emails —
and what people wrote, which may name anyone — part bodies, titles, subjects and rating
remarks. Free-form attributes (``custom_attributes``, ``ticket_attributes``) are
workspace-defined and may hold a person's name or email in any key, so under ``hash``/``drop``
each *string value* inside them is hashed or nulled (keys, numbers and booleans stay, so the
column keeps its use). The data contract lists these columns and why the others are not
personal.
"""

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from intercom_enrichment.errors import ConfigError

PiiMode = Literal["keep", "hash", "drop"]
ENV_PII_KEY = "INTERCOM_PII_HMAC_KEY"


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

    def free_form(self, text: Any) -> Any:
        """JSON text of free-form attributes with every string value protected."""
        if text is None or self.mode == "keep":
            return text
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            return self.value(text)  # not JSON after all: the whole text is one value
        return json.dumps(self._strings(data), sort_keys=True)

    def _strings(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.value(value)
        if isinstance(value, dict):
            return {k: self._strings(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._strings(v) for v in value]
        return value

    def scrub_quarantine(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Quarantined raw records may hold personal data: keep them only under ``keep``."""
        if self.mode == "keep":
            return entries
        return [{**e, "record": None, "record_omitted": f"pii={self.mode}"} for e in entries]

    def apply(
        self,
        rows: list[dict[str, Any]],
        personal: Iterable[str],
        free_form: Iterable[str] = (),
    ) -> None:
        """Protect the ``personal`` and ``free_form`` columns of ``rows`` in place."""
        if self.mode == "keep":
            return
        personal, free_form = tuple(personal), tuple(free_form)
        for row in rows:
            for column in personal:
                if column in row:
                    row[column] = self.value(row[column])
            for column in free_form:
                if column in row:
                    row[column] = self.free_form(row[column])
