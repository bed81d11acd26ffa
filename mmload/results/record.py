"""The one record type: what was observed about one request.

Everything after collection (timeline, run folder, verdict, plots) consumes records, blocks of
them (:mod:`mmload.results.block`, the same fields as columns) or the mergeable aggregates built
from them.
"""

from __future__ import annotations

from typing import NamedTuple

FIELDS = (
    "sent", "latency_ms", "endpoint", "status", "key", "user", "source",
    "limit", "remaining", "reset", "retry_after", "window", "policy", "dialect", "date", "error",
)  # fmt: skip


class Record(NamedTuple):
    sent: float  # UNIX time the request was sent
    latency_ms: float  # until the response (or the error) arrived
    endpoint: str  # the request's name, e.g. "GET /api/v4/users/me"
    status: int  # HTTP status; 0 without a whole answer (refused, reset, timeout, cut short)
    key: str  # the rate-limit key the client expects (--vary-by): its user or its source
    user: str  # who sent it: a hash of its token ("token:..."), "" before logging in
    source: str  # where from: a hash of its source address ("addr:...")
    # the rate-limit headers as the server sent them (mmload.dialects parses them); None when
    # absent or malformed
    limit: float | None  # the quota (X-Ratelimit-Limit, IETF q)
    remaining: float | None
    reset: float | None  # as sent: delta seconds, or a UNIX time for epoch dialects
    retry_after: float | None  # seconds
    window: float | None  # seconds the quota is for, when the dialect says (IETF w)
    policy: str  # the IETF policy the values come from, else ""
    dialect: str  # which headers: mattermost, epoch, ietf, ietf-draft7, ietf-draft6, or ""
    date: float | None  # the response's Date header, UNIX seconds
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
