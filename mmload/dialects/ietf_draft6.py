"""draft-ietf-httpapi-ratelimit-headers-06: one header per number, and a policy list.

``RateLimit-Limit: 20``, ``RateLimit-Remaining: 19``, ``RateLimit-Reset: 1`` (delta seconds) and
``RateLimit-Policy: 20;w=1``.  Earlier drafts (and servers still following them) put the policy
into the limit itself, ``RateLimit-Limit: 10, 10;w=1``: the first member is the limit, and a
``w`` on any member is the window.  express-rate-limit's ``draft-6`` option sends this dialect.
"""

from __future__ import annotations

from mmload.dialects import structured
from mmload.dialects.fields import Fields
from mmload.dialects.snapshot import Headers, Snapshot
from mmload.limiter.decision import Decision, ceil_seconds

NAME = "ietf-draft6"
NAMES = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy")


def render(d: Decision, wall_now: float, window_s: int) -> Headers:
    return [
        ("RateLimit-Limit", str(d.limit)),
        ("RateLimit-Remaining", str(d.remaining)),
        ("RateLimit-Reset", str(ceil_seconds(d.reset_after_ns))),
        ("RateLimit-Policy", structured.quota_policy(d.limit, window_s)),
    ]


def parse(fields: Fields) -> Snapshot:
    limit, window = structured.read_quota(fields, "ratelimit-limit")
    remaining = fields.number("ratelimit-remaining")
    reset = fields.number("ratelimit-reset")
    policy_window = structured.policy_window(fields, limit)  # read even when unused: checked
    return Snapshot(
        limit=limit,
        remaining=remaining,
        reset=reset,
        window=window if window is not None else policy_window,
        dialect=NAME,
    )
