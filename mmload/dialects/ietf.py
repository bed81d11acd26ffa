"""draft-ietf-httpapi-ratelimit-headers-08 to -11: named policies in two structured fields.

``RateLimit-Policy: "burst";q=100;w=1, "daily";q=1000;w=86400`` declares each policy's quota
``q`` per window ``w`` seconds; ``RateLimit: "burst";r=57;t=6`` says what remains of each (``r``)
and the seconds until it resets (``t``).  A client is held back by the policy closest to running
out, so that one is reported: the RateLimit item with the lowest ``r`` (ties: the longer ``t``).
With several policies, every one is kept too (``policies``), so each can be judged.  A ``pk``
(partition key) on the reported item names the bucket: two keys are two buckets, whatever the
client thinks.  A malformed field MUST be ignored (the draft says so); the snapshot says why
instead.  ``qu`` (the quota unit) is not used yet.
"""

from __future__ import annotations

import base64
from functools import lru_cache

import http_sfv

from mmload.dialects import structured
from mmload.dialects.fields import Fields
from mmload.dialects.snapshot import Headers, Snapshot
from mmload.dialects.structured import Malformed, count
from mmload.limiter.decision import Decision, ceil_seconds

NAME = "ietf"
NAMES = ("ratelimit-policy", "ratelimit")
POLICY_NAME = "default"

Items = dict[str, dict[str, int]]  # policy name -> its integer parameters


@lru_cache(maxsize=64)
def policy_header(limit: int, window_s: int) -> str:
    """``"default";q=101;w=11``: the same for every response of a server, so rendered once."""
    item = http_sfv.Item(POLICY_NAME)
    item.params["q"] = limit
    item.params["w"] = window_s
    return str(item)


def render(d: Decision, wall_now: float, window_s: int) -> Headers:
    item = http_sfv.Item(POLICY_NAME)
    item.params["r"] = d.remaining
    item.params["t"] = ceil_seconds(d.reset_after_ns)
    return [("RateLimit-Policy", policy_header(d.limit, window_s)), ("RateLimit", str(item))]


def parse(fields: Fields) -> Snapshot:
    policies = read_items(fields, "ratelimit-policy", required="q", optional="w")
    states = read_items(fields, "ratelimit", required="r", optional="t")
    if states:
        name = min(states, key=lambda n: (states[n]["r"], -states[n].get("t", -1)))
    elif len(policies) == 1:  # nothing says which is binding unless there is only one
        [name] = policies
    else:
        return Snapshot(dialect=NAME)
    state, policy = states.get(name, {}), policies.get(name, {})
    return Snapshot(
        limit=policy.get("q"),
        remaining=state.get("r"),
        reset=state.get("t"),
        window=policy.get("w"),
        policy=name,
        dialect=NAME,
        bucket=partition_key(fields, name) if states else "",
        policies=policies_text(policies, states),
    )


def policies_text(policies: Items, states: Items) -> str:
    """Every policy named by either field, ``"name";q=Q;w=W;r=R`` each (what is known of it),
    sorted by name; "" when there is only one (the snapshot's own fields say it all)."""
    names = sorted(set(policies) | set(states))
    if len(names) < 2:
        return ""
    listed = http_sfv.List()
    for name in names:
        item = http_sfv.Item(name)
        for param, value in (*policies.get(name, {}).items(), *states.get(name, {}).items()):
            if param in ("q", "w", "r"):
                item.params[param] = value
        listed.append(item)
    return str(listed)


def read_policies(text: str) -> dict[str, dict[str, int]]:
    """``policies_text`` read back: policy name -> its q, w and r (those known)."""
    found: dict[str, dict[str, int]] = {}
    for member in structured.parse_list(text):
        if isinstance(member, http_sfv.Item):
            found[str(member.value)] = {k: int(v) for k, v in member.params.items()}
    return found


def partition_key(fields: Fields, name: str) -> str:
    """The ``pk`` of the RateLimit item ``name`` (a Byte Sequence, shown as base64; a string or
    token as it is), "" without one."""
    raw = fields.combined("ratelimit")
    try:
        members = structured.parse_list(raw) if raw is not None else []
    except Malformed:
        return ""
    for member in members:
        if isinstance(member, http_sfv.Item) and member.value == name and "pk" in member.params:
            key = member.params["pk"]
            return base64.b64encode(key).decode() if isinstance(key, bytes) else str(key)
    return ""


def read_items(fields: Fields, name: str, required: str, optional: str) -> Items:
    """Every named item of a field; none at all when any part of it is malformed."""
    raw = fields.combined(name)
    if raw is None:
        return {}
    try:
        return named_items(raw, required, optional)
    except Malformed as why:
        fields.malformed(name, raw, str(why))
        return {}


def named_items(text: str, required: str, optional: str) -> Items:
    """``"name";required=N;optional=M, ...``; the first item of a repeated name counts."""
    found: Items = {}
    for member in structured.parse_list(text):
        if not isinstance(member, http_sfv.Item) or type(member.value) is not str:
            raise Malformed("a policy name is not a string")  # a Token is a str subclass
        if required not in member.params:
            raise Malformed(f"{required} is missing")
        params = {required: count(member.params[required], required)}
        if optional in member.params:
            params[optional] = count(member.params[optional], optional)
        found.setdefault(member.value, params)
    return found


def looks_like_policy(text: str | None) -> bool:
    """Drafts 8+ name their policies with a string; drafts 6 and 7 start with the quota."""
    return text is not None and text.lstrip(" \t").startswith('"')
