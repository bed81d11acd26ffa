"""The two value types the dialects exchange with the rest of mmload: headers out, a snapshot in."""

from __future__ import annotations

from typing import NamedTuple

Headers = list[tuple[str, str]]


class Snapshot(NamedTuple):
    """The rate-limit state one response advertised, as sent: nothing converted with a local clock.

    The collector caches snapshots by raw header values, so a snapshot depends on those values
    alone.  That is why an HTTP-date Retry-After without a Date header stays absolute
    (``retry_at``): only the caller knows when the response arrived.
    """

    limit: float | None = None  # quota (X-Ratelimit-Limit, q, limit=)
    remaining: float | None = None  # requests still admitted (r, remaining=)
    reset: float | None = None  # delta seconds, or a UNIX time for the epoch dialect
    retry_after: float | None = None  # seconds, from delay-seconds or retry date minus Date
    retry_at: float | None = None  # UNIX seconds: an HTTP-date Retry-After with no Date to subtract
    window: float | None = None  # seconds the quota covers (w), when the dialect says
    policy: str = ""  # the binding IETF policy's name
    date: float | None = None  # the response's Date header, UNIX seconds
    dialect: str = ""  # detected; "" when no rate-limit header was present
    problem: str = ""  # what was malformed, "" when nothing
    # the server's own name for the bucket: an IETF partition key (pk), Discord's
    # X-RateLimit-Bucket or GitHub's X-RateLimit-Resource; "" when it gives none
    bucket: str = ""
    # every IETF policy the response speaks of, when there are several (``ietf.policies_text``)
    policies: str = ""


EMPTY = Snapshot()
