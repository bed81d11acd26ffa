"""The most likely cause of a failed check, in one sentence, from the evidence of the run.

Each cause looks for its own signature in the records; a failed check is given the first cause
whose signature is there, among those that can make it fail.  No signature: no diagnosis."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mmload.limiter.gcra import tolerance_s
from mmload.verdict.checks import per_node
from mmload.verdict.findings import Context
from mmload.verdict.schema import Check
from mmload.verdict.streams import Stream

EVICTED_SHARE = 0.05  # of a bucket's draining steps, returns to the top it takes to say evicted
ZERO_RETRY_SHARE = 0.5  # of the 429s, a Retry-After of 0 it takes to say it is truncated
NEVER_LET_THROUGH = 3.0  # refusals in a row for this many times a full refill: refusals count


def rate_limiting_off(c: Context) -> str:
    m = c.measured
    if not c.mattermost or m.dialect or any(s.limited.any() for s in m.streams):
        return ""
    return (
        "rate limiting is off: the target is Mattermost, refused nothing and sent no "
        "X-Ratelimit headers, and Mattermost's RateLimitSettings.Enable is false by "
        "default"
    )


def evicted(c: Context) -> str:
    """Remaining back at the top far sooner than the rate refills it, while more keys were
    active than the store held."""
    returns = steps = 0
    for s in c.measured.streams[:20]:
        r, n = _returns_to_top(s, c.documented.per_sec)
        returns, steps = returns + r, steps + n
    if not steps or returns < 3 or returns / steps < EVICTED_SHARE:
        return ""
    keys = len(c.measured.streams)
    return (
        f"buckets are evicted: Remaining went back to the top {returns} times far sooner "
        f"than {c.documented.per_sec:g}/s refills it, with {keys} keys active: the "
        "limiter's store (Mattermost's MemoryStoreSize) holds fewer keys than the "
        "clients"
    )


def _returns_to_top(s: Stream, per_sec: float) -> tuple[int, int]:
    """(times Remaining came back to its top from well below, quicker than the rate could
    refill the difference; steps looked at)."""
    known = np.flatnonzero(s.accepted & np.isfinite(s.remaining))
    if len(known) < 3:
        return 0, 0
    remaining, t = s.remaining[known], s.t[known]
    top = (
        float(np.nanmax(s.limit[known])) - 1
        if np.isfinite(s.limit[known]).any()
        else float(remaining.max())
    )
    rise = remaining[1:] - remaining[:-1]
    refill = (t[1:] - t[:-1]) * per_sec
    back = (remaining[1:] >= top - 1) & (rise >= 2) & (rise > 2 * refill + 1)
    stay = (remaining[1:] >= top - 1) & (remaining[:-1] >= top - 1) & (refill < 0.5)
    return int(back.sum() + stay.sum()), len(rise)


def per_node_limiting(c: Context) -> str:
    return per_node(c.measured)


def per_route(c: Context) -> str:
    if "endpoint" not in c.measured.scope.grouping:
        return ""
    return "each route has a bucket of its own, so a client gets the limit once per route it calls"


def refusals_counted(c: Context) -> str:
    """A client that keeps sending is never let through: refusals for several times a full
    refill while requests kept coming faster than the rate."""
    doc = c.documented
    refill = tolerance_s(doc.per_sec, doc.capacity or 1)
    for s in c.measured.streams[:5]:
        longest, sent = _longest_refusal_run(s)
        if longest > NEVER_LET_THROUGH * refill and sent > doc.per_sec * longest:
            return (
                f"refused requests seem to count against the limit: a client that keeps "
                f"sending is never let through ({sent} refusals in a row over "
                f"{longest:.1f} s, while the bucket refills in {refill:.1f} s)"
            )
    return ""


def _longest_refusal_run(s: Stream) -> tuple[float, int]:
    """(seconds, requests) of the longest run of refusals with no acceptance between."""
    if not s.limited.any():
        return 0.0, 0
    edges = np.diff(np.concatenate([[0], s.limited.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = s.t[ends - 1] - s.t[starts]
    k = int(np.argmax(lengths))
    return float(lengths[k]), int(ends[k] - starts[k])


def retry_after_truncated(c: Context) -> str:
    """Retry-After of 0 on most refusals: a fraction of a second cut to whole seconds down."""
    values = np.concatenate(
        [s.retry_after[s.limited] for s in c.measured.streams[:20]] or [np.empty(0)]
    )
    values = values[np.isfinite(values)]
    if not len(values) or not np.all(values == np.round(values)):
        return ""
    zero = float((values == 0).mean())
    if zero < ZERO_RETRY_SHARE:
        return ""
    return (
        f"Retry-After is truncated to whole seconds: {zero:.0%} of the refusals said 0 "
        "(a fraction of a second cut down), so clients come back too early; it should be "
        "rounded up"
    )


def proxy_refusals(c: Context) -> str:
    """A Mattermost target whose refusals lack its headers or its body: something in front
    of it refused them."""
    if not c.mattermost:
        return ""
    bodies = {
        shape
        for status, shapes in c.bodies.items()
        if int(status) in c.limited
        for shape in shapes
        if shape != "limit exceeded"
    }
    bare = sum(int((s.limited & ~np.isfinite(s.remaining)).sum()) for s in c.measured.streams)
    if not bodies and not bare:
        return ""
    shown = f" ({', '.join(sorted(bodies))} bodies)" if bodies else ""
    return (
        f"a proxy in front of Mattermost refused these requests: the refusals lack "
        f"Mattermost's headers or its 'limit exceeded' body{shown}"
    )


Cause = Callable[[Context], str]
CAUSES: dict[str, tuple[Cause, ...]] = {
    "limit-enforced": (rate_limiting_off, evicted, per_node_limiting, per_route),
    "rate-matches-documented": (per_node_limiting, evicted, refusals_counted, per_route),
    "burst-matches-documented": (per_node_limiting, evicted),
    "no-limiting-below-limit": (refusals_counted, proxy_refusals),
    "scope-matches": (per_route,),
    "remaining-consistent": (evicted,),
    "reset-honest": (evicted,),
    "retry-after-honest": (retry_after_truncated, proxy_refusals),
    "limited-response-shape": (proxy_refusals,),
    "mattermost-responses": (proxy_refusals,),
}


def diagnose(check: Check, c: Context) -> str:
    """The most likely cause of a failed check ("" when it did not fail, or nothing shows)."""
    if check.passed is not False:
        return ""
    for cause in CAUSES.get(check.id, ()):
        found = cause(c)
        if found:
            return found
    return ""
