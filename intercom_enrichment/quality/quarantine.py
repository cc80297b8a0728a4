"""The quarantine rule: a record that cannot be written exactly is set aside with its reason,
never fatal to its window (``_quarantine/<window-key>.jsonl``; docs/data-contract.md)."""

from typing import Any

from pydantic import ValidationError

from .guards import loggable, quarantine_id


def quarantine_record(kind: str, item: Any, exc: ValidationError | str) -> dict[str, Any]:
    """A quarantine entry: what, which id, why (field names and rules, never values), and the
    raw record in a form that always serialises (``guards.loggable``); ``pii.scrub_quarantine``
    drops the record under ``hash``/``drop``."""
    if isinstance(exc, str):
        reasons = exc
    else:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
    return {
        "kind": kind,
        "id": quarantine_id(item.get("id")) if isinstance(item, dict) else None,
        "reason": reasons,
        "record": loggable(item),
    }
