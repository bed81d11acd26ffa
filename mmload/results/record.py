"""The one record type: what was observed about one request.

Everything after collection (timeline, run folder, verdict, plots) consumes records, blocks of
them (:mod:`mmload.results.block`, the same fields as columns) or the mergeable aggregates built
from them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

import numpy as np

FIELDS = (
    "sent", "latency_ms", "endpoint", "status", "key", "user", "source",
    "limit", "remaining", "reset", "retry_after", "window", "policy", "dialect", "date", "error",
    "bucket", "policies",
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
    # the server's own name for the bucket (IETF pk, X-RateLimit-Bucket, X-RateLimit-Resource)
    bucket: str = ""
    policies: str = ""  # every IETF policy when there are several: ``"name";q=Q;w=W;r=R, ...``

    @property
    def answered(self) -> float:
        return self.sent + self.latency_ms / 1000.0


LIMITED: frozenset[int] = frozenset({429})  # the refusals unless a run is told otherwise
LIMITABLE = range(400, 600)  # the statuses a run may be told are refusals (--limited-status)
ACCEPTED, REFUSED, FAILED = 0, 1, 2  # outcome_codes(): indices into OUTCOMES
OUTCOMES = ("accepted", "limited", "error")


def is_limited(status: int, limited: Collection[int] = LIMITED) -> bool:
    """Whether a response is a refusal: its status is one of ``limited`` (the run's
    ``--limited-status``; Mattermost's 429 by default, nginx's ``limit_req`` sends 503)."""
    return status in limited


def outcome(status: int, limited: Collection[int] = LIMITED) -> str:
    """``accepted`` (2xx/3xx), ``limited`` (a status of ``limited``: 429 by default) or
    ``error`` (no response or any other status)."""
    if is_limited(status, limited):
        return "limited"
    if 0 < status < 400:
        return "accepted"
    return "error"


def outcome_codes(status: np.ndarray, limited: Collection[int] = LIMITED) -> np.ndarray:
    """:func:`outcome` for a column, as codes: ACCEPTED, REFUSED or FAILED (0, 1, 2)."""
    status = np.asarray(status)
    codes = np.full(len(status), FAILED, dtype=np.int64)
    codes[(status > 0) & (status < 400)] = ACCEPTED
    codes[np.isin(status, np.fromiter(limited, np.int64, len(limited)))] = REFUSED
    return codes


def limited_label(limited: Collection[int] = LIMITED) -> str:
    """What people are shown a count of refusals as: the status when there is one (``429``),
    else ``limited``."""
    return str(next(iter(limited))) if len(limited) == 1 else "limited"
