"""draft-ietf-httpapi-ratelimit-headers-07: one ``RateLimit`` dictionary and a policy list.

``RateLimit: limit=20, remaining=19, reset=1`` (an RFC 8941 Dictionary, reset in delta seconds)
and ``RateLimit-Policy: 20;w=1`` (a List of quotas, each with its window ``w``).  Drafts 8 and
later reuse the RateLimit name for a List of named items (``"default";r=19;t=1``), so a
RateLimit field is read as this draft only when it sets ``limit=``, ``remaining=`` or ``reset=``.
"""

from __future__ import annotations

import re

import http_sfv

from mmload.dialects import structured
from mmload.dialects.fields import Fields
from mmload.dialects.snapshot import Headers, Snapshot
from mmload.dialects.structured import Malformed, count
from mmload.limiter.decision import Decision, ceil_seconds

NAME = "ietf-draft7"
NAMES = ("ratelimit", "ratelimit-policy")
KEYS = ("limit", "remaining", "reset")
_KEY_SET = re.compile(r"(?:^|,)[ \t]*(?:limit|remaining|reset)=")


def render(d: Decision, wall_now: float, window_s: int) -> Headers:
    # an f-string, not http_sfv.Dictionary (9 µs on the server's hot path): a non-negative
    # integer serialises as its decimal digits (RFC 8941 section 4.1.4), which the tests check
    state = f"limit={d.limit}, remaining={d.remaining}, reset={ceil_seconds(d.reset_after_ns)}"
    return [
        ("RateLimit-Policy", structured.quota_policy(d.limit, window_s)),
        ("RateLimit", state),
    ]


def looks_like(text: str) -> bool:
    """A draft-7 Dictionary sets one of its keys; a draft-8 List starts with a policy name."""
    return not text.lstrip(" \t").startswith('"') and _KEY_SET.search(text) is not None


def parse(fields: Fields) -> Snapshot:
    values = read_state(fields)
    limit = values.get("limit")
    return Snapshot(
        limit=limit,
        remaining=values.get("remaining"),
        reset=values.get("reset"),
        window=structured.policy_window(fields, limit),
        dialect=NAME,
    )


def read_state(fields: Fields) -> dict[str, int]:
    """``limit``, ``remaining`` and ``reset`` as present; nothing when the field is malformed."""
    raw = fields.combined("ratelimit")
    if raw is None:
        return {}
    try:
        members = structured.parse_dictionary(raw)
        found = {}
        for key in KEYS:
            member = members.get(key)
            if member is None:
                continue
            if not isinstance(member, http_sfv.Item):
                raise Malformed(f"{key} is an inner list")
            found[key] = count(member.value, key)
    except Malformed as why:
        fields.malformed("ratelimit", raw, str(why))
        return {}
    return found
