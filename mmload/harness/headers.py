"""Read the rate-limit state a response advertises.

Mattermost (throttled) sends ``X-Ratelimit-Limit/Remaining/Reset`` and ``Retry-After`` on 429.
The same names are used by GitHub, Flask-Limiter, Envoy; the IETF drafts use ``RateLimit-*``.
Values are numbers; a malformed value is reported, never raised, and the field left empty.

This runs inside Locust's request event for every response, so the common cases are cheap:
FastHttpUser's headers (geventhttpclient) are a dict of lower-cased names, read with plain dict
lookups; any other mapping (requests' ``CaseInsensitiveDict``) is read with its ``get``.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

from geventhttpclient.header import Headers as FastHeaders  # FastHttpUser's response headers

# (field, header names in order of preference)
FIELDS = (
    ("limit", ("x-ratelimit-limit", "ratelimit-limit")),
    ("remaining", ("x-ratelimit-remaining", "ratelimit-remaining")),
    ("reset", ("x-ratelimit-reset", "ratelimit-reset")),
    ("retry_after", ("retry-after",)),
)
_ANY = ("x-ratelimit-limit", "x-ratelimit-remaining", "ratelimit-limit", "ratelimit", "retry-after")

Snapshot = tuple[float | None, float | None, float | None, float | None]
EMPTY: Snapshot = (None, None, None, None)
_dict_get: Any = dict.get  # unbound: skips Headers' own get(), which lower-cases and raises


def number(raw: Any) -> float | None:
    """A header value as a number: ``10``, ``1.5``, ``10, 10;w=1`` (first item).  None if not."""
    if isinstance(raw, list):  # a repeated header: the last one wins, as in most clients
        raw = raw[-1]
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        pass
    head = text.split(",", 1)[0].split(";", 1)[0].strip()
    try:
        value = float(head)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _raw_getter(headers: Any) -> Any:
    """A ``get(lower_name) -> str | list[str] | None`` for the headers object at hand."""
    if type(headers) is FastHeaders:  # a dict: lower name -> (Name, value) or a list of them

        def get(name: str) -> Any:
            entry = _dict_get(headers, name)
            if entry is None or isinstance(entry, tuple):
                return entry and entry[1]
            return [value for _, value in entry]

        return get
    return headers.get  # requests' CaseInsensitiveDict and other mappings


def snapshot(headers: Any) -> tuple[Snapshot, str]:
    """The four fields from a response's headers, and what was malformed ("" if nothing)."""
    if headers is None:
        return EMPTY, ""
    if type(headers) is FastHeaders:
        fast = _fast_snapshot(headers)
        if fast is not None:
            return fast, ""
        if not any(_dict_get(headers, n) for n in _ANY):
            return EMPTY, ""  # no rate-limit headers at all
    return _general_snapshot(_raw_getter(headers))


def _fast_snapshot(headers: Any) -> Snapshot | None:
    """The common case, straight-line: X-Ratelimit-* present once each, plain integers."""
    limit = _dict_get(headers, "x-ratelimit-limit")
    remaining = _dict_get(headers, "x-ratelimit-remaining")
    reset = _dict_get(headers, "x-ratelimit-reset")
    retry = _dict_get(headers, "retry-after")
    if type(limit) is not tuple or type(remaining) is not tuple or type(reset) is not tuple:
        return None
    if retry is not None and type(retry) is not tuple:
        return None
    try:
        return (
            int(limit[1]),
            int(remaining[1]),
            int(reset[1]),
            None if retry is None else int(retry[1]),
        )
    except ValueError:
        return None  # decimals, lists, malformed: the general path says what is wrong


def _general_snapshot(get: Any) -> tuple[Snapshot, str]:
    values: list[float | None] = []
    problems = []
    for field, names in FIELDS:
        value: float | None = None
        for name in names:
            raw = get(name)
            if raw is None:
                continue
            try:
                value = int(raw)  # the common case: a plain integer
            except (TypeError, ValueError):
                value = number(raw)
                if value is None and field == "retry_after":
                    value = _http_date_delta(raw)
                if value is None:
                    problems.append(f"malformed {name}: {str(raw)[:40]!r}")
            break
        values.append(value)
    return (values[0], values[1], values[2], values[3]), "; ".join(problems)


def _http_date_delta(raw: Any) -> float | None:
    """Retry-After may also be an HTTP-date: seconds from now until then."""
    try:
        return max(0.0, parsedate_to_datetime(str(raw)).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None
