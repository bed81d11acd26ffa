"""Rate-limit header dialects: each renders a limiter decision (the reference server) and parses
a response's headers back (the collector, the verdict), in the same module.

- ``mattermost``: throttled's ``X-Ratelimit-Limit/Remaining/Reset``, Reset in delta seconds.
- ``epoch``: the same names with Reset as a UNIX time, as GitHub and Flask-Limiter send it.
- ``ietf``: draft-ietf-httpapi-ratelimit-headers-08 to -11, named policies in ``RateLimit-Policy``
  and ``RateLimit`` structured fields.
- ``ietf-draft7``: ``RateLimit: limit=, remaining=, reset=`` and ``RateLimit-Policy``.
- ``ietf-draft6``: ``RateLimit-Limit/Remaining/Reset`` and ``RateLimit-Policy``.
- ``none``: no rate-limit headers at all.

Every dialect sends ``Retry-After`` with a refusal.  ``parse`` takes the raw values of the
``CAPTURED`` headers, detects the dialect and never raises: what is malformed is named in the
snapshot's ``problem`` and its field left None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mmload.dialects import (
    epoch,
    fields,
    ietf,
    ietf_draft6,
    ietf_draft7,
    mattermost,
    retry_after,
)
from mmload.dialects.fields import Fields, Raw
from mmload.dialects.snapshot import EMPTY, Headers, Snapshot
from mmload.limiter.decision import Decision, ceil_seconds

__all__ = [
    "CAPTURED",
    "DIALECTS",
    "Headers",
    "Snapshot",
    "parse",
    "parse_headers",
    "render",
]

Renderer = Callable[[Decision, float, int], Headers]


def _no_headers(d: Decision, wall_now: float, window_s: int) -> Headers:
    return []


RENDERERS: dict[str, Renderer] = {
    mattermost.NAME: mattermost.render,
    epoch.NAME: epoch.render,
    ietf.NAME: ietf.render,
    ietf_draft7.NAME: ietf_draft7.render,
    ietf_draft6.NAME: ietf_draft6.render,
    "none": _no_headers,
}
DIALECTS = tuple(RENDERERS)

# every header a parser reads, lower-case, in the order ``parse`` takes their values
CAPTURED: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *mattermost.NAMES,
            *ietf.NAMES,
            *ietf_draft7.NAMES,
            *ietf_draft6.NAMES,
            *retry_after.NAMES,
            *mattermost.BUCKET_NAMES,
        )
    )
)
_CAPTURED_SET = frozenset(CAPTURED)


def render(dialect: str, d: Decision, wall_now: float, window_s: int) -> Headers:
    """The headers a server speaking ``dialect`` sends; ``window_s`` is the advertised ``w``."""
    headers = RENDERERS[dialect](d, wall_now, window_s)
    if d.retry_after_ns >= 0:
        headers.append(("Retry-After", str(ceil_seconds(d.retry_after_ns))))
    return headers


def parse(values: Sequence[Raw]) -> Snapshot:
    """The snapshot of one response from its CAPTURED values (None, a str, or repeated lines).

    A pure function of ``values``, so the collector can cache it by them.
    """
    pairs = zip(CAPTURED, values, strict=False)  # a shorter list: the rest are absent
    found = {name: lines for name, raw in pairs if (lines := fields.lines(raw))}
    if not found:
        return EMPTY
    read = Fields(found)
    family = _family(read)
    snapshot = family(read) if family is not None else EMPTY
    retry, retry_at, date = retry_after.read(read)
    return snapshot._replace(
        retry_after=retry, retry_at=retry_at, date=date, problem="; ".join(read.problems)
    )


def parse_headers(headers: Mapping[str, str | Sequence[str]]) -> Snapshot:
    """``parse`` for a plain mapping of header names (any case) to values."""
    found: dict[str, list[str]] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in _CAPTURED_SET:
            found.setdefault(key, []).extend(fields.lines(value))
    return parse([found.get(name) for name in CAPTURED])


def _family(read: Fields) -> Callable[[Fields], Snapshot] | None:
    """The parser for the headers present.  Some proxies add IETF fields on top of a server's
    X-Ratelimit ones, so the newest IETF draft wins, then older drafts, then X-Ratelimit."""
    state = read.combined("ratelimit")
    if state is not None:
        return ietf_draft7.parse if ietf_draft7.looks_like(state) else ietf.parse
    if ietf.looks_like_policy(read.combined("ratelimit-policy")):
        return ietf.parse
    if any(read.has(name) for name in ietf_draft6.NAMES):
        return ietf_draft6.parse
    if any(read.has(name) for name in mattermost.NAMES):
        return epoch.parse  # the X-Ratelimit family, named by its Reset's value
    return None
