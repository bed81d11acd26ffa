"""The one record type: what was observed about one request.

Everything after collection (timeline, run folder, verdict, plots) consumes records or the
mergeable aggregates built from them.  A record is a plain tuple, so it crosses process
boundaries (msgpack) and goes into CSV without conversion.
"""

from __future__ import annotations

from typing import NamedTuple

FIELDS = (
    "sent", "latency_ms", "endpoint", "status", "key",
    "limit", "remaining", "reset", "retry_after", "error",
)  # fmt: skip


class Record(NamedTuple):
    sent: float  # UNIX time the request was sent
    latency_ms: float  # until the response (or the error) arrived
    endpoint: str  # the request's name, e.g. "GET /api/v4/users/me"
    status: int  # HTTP status; 0 when there was no response (refused, reset, timeout)
    key: str  # the rate-limit key the client expects: a hash of its token or address
    limit: float | None  # parsed rate-limit headers; None when absent or malformed
    remaining: float | None
    reset: float | None
    retry_after: float | None
    error: str  # "" or what went wrong (connection error, malformed header, ...)

    @property
    def answered(self) -> float:
        return self.sent + self.latency_ms / 1000.0


def outcome(status: int) -> str:
    """``accepted`` (2xx/3xx), ``limited`` (429) or ``error`` (no response or any other status)."""
    if status == 429:
        return "limited"
    if 0 < status < 400:
        return "accepted"
    return "error"
