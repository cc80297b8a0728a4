"""What a response may be: a bounded body, sane rate-limit hints, a JSON object.

The client's transport (``IntercomClient._send``) uses these on every attempt; the limits come
from the settings (limits.py). Nothing here waits or retries.
"""

from typing import Any

import httpx

from intercom_enrichment.errors import MalformedResponse, ResponseTooLarge, hint_seconds
from intercom_enrichment.quality.guards import parse_json

from .budget import RateHeaders
from .settings import IntercomSettings


def rate_headers(
    headers: httpx.Headers, *, now: float, settings: IntercomSettings
) -> RateHeaders | None:
    """The rate headers, unless a value is not a finite non-negative number or the reset
    is beyond INTERCOM_MAX_WAIT: such a hint counts as absent."""
    parsed = RateHeaders.parse(headers)
    if parsed is None or parsed.limit <= 0 or parsed.remaining < 0:
        return None
    reset = hint_seconds(str(parsed.reset))
    if reset is None or reset - now > settings.max_wait_seconds:
        return None
    return parsed


async def read_body(
    response: httpx.Response, *, settings: IntercomSettings, method: str, path: str
) -> bytes:
    """The body, streamed and counted (decoded bytes): never more than the cap in memory."""
    cap = settings.max_response_bytes
    declared = response.headers.get("content-length", "")
    too_large = (
        f"response body larger than {settings.max_response_mb:g} MB (INTERCOM_MAX_RESPONSE_MB)"
    )
    where: dict[str, Any] = {"status": response.status_code, "method": method, "path": path}
    if declared.isdigit() and int(declared) > cap:
        raise ResponseTooLarge(too_large, **where)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise ResponseTooLarge(too_large, **where)
        chunks.append(chunk)
    return b"".join(chunks)


_ENCODING_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


def complete(streamed: httpx.Response, content: bytes) -> httpx.Response:
    """The streamed response with its (decoded) body, for ``classify``."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k not in _ENCODING_HEADERS]
    return httpx.Response(
        streamed.status_code, headers=headers, content=content, request=streamed.request
    )


def json_object(content: bytes, *, status: int, method: str, path: str) -> dict[str, Any]:
    """The body as a JSON object: not UTF-8, not JSON or nested too deep → MalformedResponse."""
    try:
        body = parse_json(content)  # guards: a record nested too deep is that record's fault
    except ValueError:  # includes UnicodeDecodeError and integers beyond 4300 digits
        body = None
    except RecursionError:
        raise MalformedResponse(
            "response body is nested too deeply to parse", status=status, method=method, path=path
        ) from None
    if not isinstance(body, dict):
        raise MalformedResponse(
            "response body is not a JSON object", status=status, method=method, path=path
        )
    return body
