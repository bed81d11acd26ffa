"""Read the rate-limit state a response advertises.

Mattermost (throttled) sends ``X-Ratelimit-Limit/Remaining/Reset`` and ``Retry-After`` on 429.
The same names are used by GitHub, Flask-Limiter, Envoy; the IETF drafts use ``RateLimit-*``.
Values are numbers; a malformed value is reported, never raised, and the field left empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

FIELDS = (
    ("limit", ("x-ratelimit-limit", "ratelimit-limit")),
    ("remaining", ("x-ratelimit-remaining", "ratelimit-remaining")),
    ("reset", ("x-ratelimit-reset", "ratelimit-reset")),
    ("retry_after", ("retry-after",)),
)

Snapshot = tuple[float | None, float | None, float | None, float | None]
EMPTY: Snapshot = (None, None, None, None)


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


def snapshot(get: Callable[[str], Any]) -> tuple[Snapshot, str]:
    """The four fields, via a case-insensitive ``headers.get``, and what was malformed."""
    values: list[float | None] = []
    problems = []
    for field, names in FIELDS:
        value = None
        for name in names:
            raw = get(name)
            if raw is None:
                continue
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
