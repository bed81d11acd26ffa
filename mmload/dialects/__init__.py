"""Render a decision as response headers in one of the dialects servers speak.

- ``mattermost``: throttled's ``X-Ratelimit-Limit/Remaining/Reset`` (Reset in delta seconds) and
  ``Retry-After`` only when refused.
- ``epoch``: the same names with Reset as a UNIX epoch, as Flask-Limiter and GitHub send it.
- ``ietf``: draft-ietf-httpapi-ratelimit-headers-11, ``RateLimit-Policy`` and ``RateLimit``
  structured fields (policy ``default``: ``q`` requests per ``w`` seconds).
- ``none``: no rate-limit headers at all (Retry-After is still sent with a 429).
"""

from __future__ import annotations

import math

import http_sfv

from mmload.limiter.decision import NS, Decision, ceil_seconds

DIALECTS = ("mattermost", "epoch", "ietf", "none")
POLICY_NAME = "default"

Headers = list[tuple[str, str]]


def policy_header(limit: int, window_s: int) -> str:
    item = http_sfv.Item(POLICY_NAME)
    item.params["q"] = limit
    item.params["w"] = window_s
    return str(item)


def render(dialect: str, d: Decision, wall_now: float, window_s: int) -> Headers:
    headers: Headers
    if dialect == "mattermost":
        headers = [
            ("X-Ratelimit-Limit", str(d.limit)),
            ("X-Ratelimit-Remaining", str(d.remaining)),
            ("X-Ratelimit-Reset", str(ceil_seconds(d.reset_after_ns))),
        ]
    elif dialect == "epoch":
        headers = [
            ("X-Ratelimit-Limit", str(d.limit)),
            ("X-Ratelimit-Remaining", str(d.remaining)),
            ("X-Ratelimit-Reset", str(math.ceil(wall_now + d.reset_after_ns / NS))),
        ]
    elif dialect == "ietf":
        item = http_sfv.Item(POLICY_NAME)
        item.params["r"] = d.remaining
        item.params["t"] = ceil_seconds(d.reset_after_ns)
        headers = [("RateLimit-Policy", policy_header(d.limit, window_s)), ("RateLimit", str(item))]
    else:
        headers = []
    if d.retry_after_ns >= 0:
        headers.append(("Retry-After", str(ceil_seconds(d.retry_after_ns))))
    return headers
