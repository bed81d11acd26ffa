"""Retry-After and Date, which every dialect shares (RFC 9110 sections 10.2.3 and 6.6.1).

Retry-After is delay seconds or an HTTP-date.  A date is turned into a delay with the response's
own Date header, so both come from the server's clock; without Date it stays a UNIX time
(``retry_at``) for the caller to compare with its own clock.  A retry date before Date means
"now" (a delay of 0).
"""

from __future__ import annotations

from mmload.dialects import numbers
from mmload.dialects.fields import Fields

NAMES = ("retry-after", "date")


def read(fields: Fields) -> tuple[float | None, float | None, float | None]:
    """``(retry_after, retry_at, date)``, each None when absent or malformed."""
    date = read_date(fields)
    raw = fields.single("retry-after")
    if raw is None:
        return None, None, date
    delay, when = numbers.delay_or_date(raw)
    if delay is not None:
        return delay, None, date
    if when is None:
        fields.malformed("retry-after", raw)
        return None, None, date
    if date is None:
        return None, when, date
    return max(0.0, when - date), None, date


def read_date(fields: Fields) -> float | None:
    raw = fields.single("date")
    if raw is None:
        return None
    date = numbers.http_date(raw)
    if date is None:
        fields.malformed("date", raw)
    return date
