"""Mattermost's dialect: throttled's ``X-Ratelimit-Limit/Remaining/Reset``, Reset in delta seconds.

Limit is the burst capacity (MaxBurst + 1), Reset is ``ceil`` seconds until the bucket is full
again, and Retry-After (added by the registry) is sent only when a request is refused.  GitHub,
Flask-Limiter and Envoy use the same names; ``epoch`` tells their epoch Reset apart by value.
"""

from __future__ import annotations

from mmload.dialects import structured
from mmload.dialects.fields import Fields
from mmload.dialects.snapshot import Headers, Snapshot
from mmload.limiter.decision import Decision, ceil_seconds

NAME = "mattermost"
NAMES = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
# the server's name for the bucket an answer speaks of: Discord's per-route bucket, GitHub's
# resource (core, search, graphql, ...); read beside the X-Ratelimit family, never alone
BUCKET_NAMES = ("x-ratelimit-bucket", "x-ratelimit-resource")


def render(d: Decision, wall_now: float, window_s: int) -> Headers:
    return [
        ("X-Ratelimit-Limit", str(d.limit)),
        ("X-Ratelimit-Remaining", str(d.remaining)),
        ("X-Ratelimit-Reset", str(ceil_seconds(d.reset_after_ns))),
    ]


def parse(fields: Fields) -> Snapshot:
    """The X-Ratelimit family.  Envoy's Limit may be a quota list ``10, 10;w=1``: its ``w`` is
    the window."""
    limit, window = structured.read_quota(fields, "x-ratelimit-limit")
    return Snapshot(
        limit=limit,
        remaining=fields.number("x-ratelimit-remaining"),
        reset=fields.number("x-ratelimit-reset"),
        window=window,
        dialect=NAME,
        bucket=bucket_name(fields),
    )


def bucket_name(fields: Fields) -> str:
    """The first of ``BUCKET_NAMES`` present, as sent (trimmed); "" without one."""
    for name in BUCKET_NAMES:
        value = fields.combined(name)
        if value is not None and value.strip():
            return value.strip()
    return ""
