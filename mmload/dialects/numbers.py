"""Strict header numbers and HTTP-dates: the only way the dialects turn text into a value.

A rate-limit number on the wire is ASCII digits with an optional ``.digits`` fraction.  Python's
``int()`` and ``float()`` also accept ``1_0``, ``+5``, ``-1``, ``1e3``, ``nan``, ``inf``, ``٣`` and
any Unicode whitespace; a verifier that read those would pass a server that sends them.  So the
shape is checked first and only then converted.  Malformed text gives None, never an exception.
"""

from __future__ import annotations

import math
import re
from datetime import UTC
from email.utils import parsedate_to_datetime

# OWS is spaces and tabs only (RFC 9110 section 5.6.3); [0-9] is ASCII whatever the flags
_NUMBER = re.compile(r"[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*")


def number(text: str) -> int | float | None:
    """``101`` → 101, ``1.5`` → 1.5; anything else (or too big for a float64) → None."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1)
    value = float(digits)  # first, so int() never meets more digits than it will convert
    if math.isinf(value):
        return None
    return value if "." in digits else int(digits)


def http_date(text: str) -> float | None:
    """An HTTP-date as UNIX seconds: IMF-fixdate and the obsolete RFC 850 and asctime forms.

    ``parsedate_to_datetime`` reads all three (and a few looser forms); a zone-less result
    (asctime, ``-0000``) is GMT, as every HTTP-date is.  A date before 1970 is rejected: no server
    means it, and the snapshot's numbers are never negative.
    """
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp()
    return seconds if seconds >= 0 else None


def delay_or_date(text: str) -> tuple[int | float | None, float | None]:
    """Retry-After's two forms: ``(delay seconds, None)`` or ``(None, the date's UNIX time)``."""
    delay = number(text)
    if delay is not None:
        return delay, None
    return None, http_date(text)
