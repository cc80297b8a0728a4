"""Ids from responses, checked before they become part of a URL path.

Intercom's ids are plain tokens: conversation, admin and part ids are digits (``"123456"``),
contact, company and segment ids 24 hex digits (``"6762f0d01bb69f9f2193bb7d"``), as in every
example of the OpenAPI descriptions (shared/intercom-examples, Intercom-OpenAPI 2.14–2.16). An id
that is anything else — a ``/``, ``..``, NUL, CR/LF, 200,000 characters — is a problem of the
record that carries it: ``InvalidId`` is raised and the request is never sent. The segment is
percent-encoded even so, so that a change of the pattern can never let ``..`` become a path
segment.
"""

from urllib.parse import quote

from intercom_enrichment.errors import InvalidId
from intercom_enrichment.quality.guards import (
    is_plain_id,  # the one definition of a plain id (limits.MAX_ID_LENGTH)
)

__all__ = ["describe", "is_plain_id", "path_segment"]


def describe(value: object) -> str:
    """An invalid id, shown safely: escaped and cut short."""
    if not isinstance(value, str):
        return type(value).__name__
    shown = repr(value[:24]) + ("…" if len(value) > 24 else "")
    return f"{shown} ({len(value)} characters)"


def path_segment(kind: str, value: object, *, template: str, method: str = "GET") -> str:
    """``value`` as one percent-encoded path segment, or ``InvalidId`` naming ``template``."""
    if not is_plain_id(value):
        raise InvalidId(
            f"{kind} id {describe(value)} is not a plain Intercom id: not sent",
            method=method,
            path=template,
        )
    return quote(str(value), safe="")
