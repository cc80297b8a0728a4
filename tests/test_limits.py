"""Limits are declared once (limits.py): the documented table (docs/operations.md, "Limits") is
generated from them, and the environment sets the tunable ones or is refused in one line."""

from pathlib import Path

import pytest

from intercom_enrichment.api.settings import IntercomSettings
from intercom_enrichment.errors import ConfigError
from intercom_enrichment.limits import LIMITS, limits_table

LIMITS_DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
TOKEN = {"INTERCOM_ACCESS_TOKEN": "tok-limits"}


def test_the_documented_table_is_the_declared_limits() -> None:
    assert limits_table() in LIMITS_DOC.read_text()


def test_defaults_reach_the_settings() -> None:
    settings = IntercomSettings.from_env(TOKEN)
    for limit in LIMITS:
        if limit.field:
            assert getattr(settings, limit.field) == limit.default, limit.env
    assert settings.max_response_bytes == 64 * 1024 * 1024


def test_the_environment_sets_each_tunable_limit() -> None:
    env = {
        **TOKEN,
        "INTERCOM_REQUEST_TIMEOUT": "2.5",
        "INTERCOM_MAX_WAIT": "30",
        "INTERCOM_MAX_RESPONSE_MB": "0.5",
        "INTERCOM_MAX_ATTEMPTS": "2",
    }
    settings = IntercomSettings.from_env(env)
    assert (settings.timeout_seconds, settings.max_wait_seconds) == (2.5, 30.0)
    assert (settings.max_response_mb, settings.max_attempts) == (0.5, 2)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INTERCOM_REQUEST_TIMEOUT", "0"),
        ("INTERCOM_REQUEST_TIMEOUT", "inf"),
        ("INTERCOM_MAX_WAIT", "-1"),
        ("INTERCOM_MAX_WAIT", "nan"),
        ("INTERCOM_MAX_RESPONSE_MB", "lots"),
        ("INTERCOM_MAX_ATTEMPTS", "2.5"),
    ],
)
def test_a_malformed_limit_is_a_config_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        IntercomSettings.from_env({**TOKEN, name: value})
