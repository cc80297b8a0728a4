"""The one rule that decides whether a record from the API can be written exactly.

A record that breaks it is quarantined with the reason (never fatal, never the whole window):

- **nesting** deeper than ``MAX_NESTING`` objects/lists (free-form ``custom_attributes``);
- a **number** that is not finite (``Infinity``, ``NaN``) or an integer outside int64;
- a **string** that is not valid Unicode (a lone surrogate such as ``"\\ud800"``), which no
  Parquet or JSON writer can encode;
- a **timestamp** (UNIX seconds) outside ``[TIMESTAMP_MIN, TIMESTAMP_MAX)`` — 1970-01-01 up to
  2200-01-01 UTC, far inside ``timestamp[us, UTC]`` and inside what every reader converts;
- an **id** (of a conversation or contact: the ids that become URL path segments and file keys)
  that is not a plain Intercom id: ``INTERCOM_ID_PATTERN``.

The first three are checked over the whole raw record by ``unwritable_reason``; the last two are
the types ``models.Unix`` and ``models.PlainId`` apply field by field. ``is_plain_id`` is also
what the client checks before an id enters a URL path.
"""

import json
import math
import re
from typing import Any, TypeGuard

import orjson

from intercom_enrichment.limits import MAX_ID_LENGTH as ID_LENGTH_LIMIT

MAX_NESTING = 32  # objects/lists inside one record; Intercom's own objects nest 4 deep
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TIMESTAMP_MIN = 0  # 1970-01-01T00:00:00Z
TIMESTAMP_MAX = 7_258_118_400  # 2200-01-01T00:00:00Z (exclusive)
MAX_ID_LENGTH = int(ID_LENGTH_LIMIT.default)  # one definition: limits.py
MAX_LOGGED_STRING = 2000  # characters of one string kept in a quarantined record
PARSE_DEPTH = 256  # a body nested deeper is cut here: far beyond MAX_NESTING, within recursion

# Intercom ids are decimal numbers (conversations, admins) or 24-hex-digit object ids (contacts),
# sometimes with a prefix (``ext-…`` in other objects): letters, digits, ``_`` and ``-`` only.
# No ``/``, ``.``, ``%``, whitespace or control character can pass, so an id used as a URL path
# segment is always exactly one segment and never ``..``.
INTERCOM_ID_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}")


def is_plain_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a string that is a plain Intercom id (safe as one URL segment)."""
    return isinstance(value, str) and INTERCOM_ID_PATTERN.fullmatch(value) is not None


def timestamp_reason(value: int) -> str | None:
    if not TIMESTAMP_MIN <= value < TIMESTAMP_MAX:
        return "timestamp outside 1970-01-01 … 2200-01-01 UTC"
    return None


# A number of 19 digits or more: the only way an integer beyond int64 (9223372036854775807, 19
# digits) can appear in ``json.dumps`` text of a container, where every number follows ``[`` or a
# separator's space (floats print at most 17 significant digits). Digits inside a string match
# only after a space or ``[`` there too; such a record merely takes the exact walk. Four searches
# that each start with a literal are three times faster than one that starts with a character
# class ``[\[ ]``, and than a search for 19 digits anywhere, which ids such as the sandbox's
# contact ids (``"000000070000000000000500"``) match in nearly every conversation
# (benchmarks/record_costs.py).
_LONG_NUMBERS = tuple(
    re.compile(prefix + rb"[0-9]{19}") for prefix in (rb" ", rb" -", rb"\[", rb"\[-")
)
_SEARCHES = tuple(pattern.search for pattern in _LONG_NUMBERS)


def unwritable_reason(record: Any) -> str | None:
    """Why ``record`` (parsed JSON) cannot be written exactly, or None when it can
    (``writable_json``)."""
    return writable_json(record)[0]


def writable_json(record: Any, *, strict: bool = False) -> tuple[str | None, bytes]:
    """``(why record cannot be written exactly, b"")``, or ``(None, its JSON text as UTF-8)``:
    the check's own encoding, which is what the listing's spill keeps (``extract/spill.py``).

    ``strict``: the caller vouches that ``record`` is part of a ``StrictObject`` (parsed by
    ``parse_json`` from a text that orjson accepted and that holds no long integer), so that no
    number or string in it can break a rule: only nesting is checked, and orjson encodes it
    (7× faster than ``json.dumps``, benchmarks/record_costs.py).

    The common case, a record that breaks no rule, is decided at C speed: ``json.dumps`` with
    ``allow_nan=False`` and a UTF-8 encode of its text find non-finite numbers and lone
    surrogates (in values and field names) at once; a search for a 19-digit number finds every
    integer that could exceed int64; and a record with fewer brackets than ``MAX_NESTING`` cannot
    nest deeper (otherwise its containers are walked). Anything suspicious takes the exact walk
    (``_exact_reason``), which names the rule broken. Profiled on the 20,000 conversations of
    S1 (cProfile around ``run_window``): 4.5 s → 1.4 s (docs/performance.md).
    """
    if strict:
        data = orjson.dumps(record)
    elif not isinstance(record, dict | list):  # a lone number has no ``[`` or space before it
        reason = _exact_reason(record)
        return (reason, b"") if reason else (None, json.dumps(record).encode("utf-8"))
    else:
        try:
            data = json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
            return _exact_reason(record) or "not encodable as JSON", b""
    reason = None
    if not strict and any(search(data) for search in _SEARCHES):  # maybe digits in a string
        reason = _exact_reason(record)
    elif data.count(b"[") + data.count(b"{") >= MAX_NESTING:  # brackets in strings only add
        reason = _nesting_reason(record)
    return (reason, b"") if reason else (None, data)


def _nesting_reason(record: Any) -> str | None:
    """Containers only, level by level (iterative, like ``_exact_reason``)."""
    level = [record]  # a dict or a list: unwritable_reason checked
    depth = 0
    while level:
        if depth >= MAX_NESTING:
            return f"nested deeper than {MAX_NESTING} levels"
        nested: list[Any] = []
        for value in level:
            items = value.values() if isinstance(value, dict) else value
            nested.extend(item for item in items if isinstance(item, dict | list))
        level = nested
        depth += 1
    return None


def _exact_reason(record: Any) -> str | None:
    """The rule ``record`` breaks, value by value. Iterative, so a record nested thousands deep
    costs no recursion."""
    stack: list[tuple[Any, int]] = [(record, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_NESTING:
                return f"nested deeper than {MAX_NESTING} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not _valid_unicode(key):
                    return "a field name is not valid Unicode"
                stack.append((item, depth + 1))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                return "an integer beyond int64"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "a number that is not finite"
        elif isinstance(value, str) and not _valid_unicode(value):
            return "a string that is not valid Unicode (lone surrogate)"
    return None


def _valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loggable(record: Any, depth: int = MAX_NESTING) -> Any:
    """A bounded copy of ``record`` that serialises as JSON, for the quarantine file: nesting
    cut at ``depth`` (``json.dumps`` recurses), strings cut at ``MAX_LOGGED_STRING``."""
    if isinstance(record, str) and len(record) > MAX_LOGGED_STRING:
        return record[:MAX_LOGGED_STRING] + "…"
    if isinstance(record, dict | list):
        if depth <= 0:
            return "…"
        if isinstance(record, dict):
            return {str(k): loggable(v, depth - 1) for k, v in record.items()}
        return [loggable(v, depth - 1) for v in record]
    return record


def quarantine_id(value: Any) -> str | None:
    """The id a quarantine entry names: as is when plain, else a bounded, visible rendering."""
    if value is None:
        return None
    if is_plain_id(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


# An integer literal of 19 digits or more in a JSON text: after ``:``, ``,`` or ``[`` (and
# whitespace, and a minus), or at its start. orjson reads one beyond 64 bits as a float, silently
# inexact, so a text that has one is parsed by ``json`` instead.
_LONG_LITERALS = tuple(
    re.compile(prefix + rb"[ \t\n\r]*-?[0-9]{19}").search for prefix in (rb":", rb",", rb"\[")
)
_LEADING_LONG_LITERAL = re.compile(rb"[ \t\n\r]*-?[0-9]{19}").match


class StrictObject(dict[str, Any]):
    """A JSON object that ``parse_json`` read with orjson from a text without a long integer
    literal. orjson refuses ``NaN``, ``Infinity``, numbers that overflow a double and strings
    that are not valid Unicode (lone surrogates), and every integer it read has at most 18
    digits: nothing in it breaks a rule of this module but nesting
    (``writable_json(..., strict=True)``)."""

    __slots__ = ()


def parse_json(raw: bytes | str) -> Any:
    """``json.loads``, except that a body nested deeper than Python's recursion allows is not an
    error of the whole response: every value nested beyond ``PARSE_DEPTH`` is replaced by a
    string, so the one record holding it fails ``unwritable_reason`` (nesting) and is quarantined
    while the rest of the page is used. ``ValueError`` for what is not JSON at all.

    The same values, faster: a text orjson accepts and that holds no integer literal of 19
    digits or more is read by orjson (a JSON object as a ``StrictObject``); any other by
    ``json``, which also gives each non-finite number, long integer and lone surrogate as it is,
    for the record holding it to be quarantined by its reason."""
    if isinstance(raw, bytes) and not (
        _LEADING_LONG_LITERAL(raw) or any(search(raw) for search in _LONG_LITERALS)
    ):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            return StrictObject(value) if isinstance(value, dict) else value
    try:
        return json.loads(raw)
    except RecursionError:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(_cut_deep(text, PARSE_DEPTH))


def _cut_deep(text: str, limit: int) -> str:
    """``text`` with each object/array opened at depth ``limit`` replaced by ``"…"``."""
    out: list[str] = []
    depth, i, n, copied = 0, 0, len(text), 0
    while i < n:
        ch = text[i]
        if ch == '"':
            i = _string_end(text, i)
            continue
        if ch in "{[":
            if depth == limit:
                end = _value_end(text, i)
                out.append(text[copied:i])
                out.append('"…"')
                copied = i = end
                continue
            depth += 1
        elif ch in "}]":
            depth -= 1
        i += 1
    out.append(text[copied:])
    return "".join(out)


def _string_end(text: str, i: int) -> int:
    """Index just past the JSON string that starts at ``text[i] == '"'``."""
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return i


def _value_end(text: str, i: int) -> int:
    """Index just past the object/array that starts at ``text[i]``."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = _string_end(text, i)
            continue
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i
