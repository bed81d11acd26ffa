"""What a limiter decided for one request, in integer nanoseconds as throttled computes it."""

from __future__ import annotations

from dataclasses import dataclass

NS = 1_000_000_000


@dataclass(slots=True)
class Decision:
    limited: bool
    limit: int  # requests a fresh bucket admits at once (X-Ratelimit-Limit)
    remaining: int  # requests still admitted right now
    reset_after_ns: int  # until the bucket is back to full
    retry_after_ns: int = -1  # until a request would be admitted; -1 when not limited


def ceil_seconds(ns: int) -> int:
    """``math.Ceil(d.Seconds())`` for a non-negative duration, without float rounding."""
    return -(-ns // NS)
