"""The checks of what the server enforces: whether it limits at all, at which rate and burst,
by which key, and one bucket per key.  Each compares the evidence with the documentation and
says so in a sentence; what the run cannot decide it says it cannot (``passed`` None).

Every timing judgement uses what is known, not a point: the limiter decided each request
somewhere between its send and its answer, and a rate is an interval (:mod:`rates`)."""

from __future__ import annotations

import numpy as np

from mmload.results.samples import APPERROR, LIMIT_EXCEEDED
from mmload.verdict import rates, scope
from mmload.verdict.findings import Context, Finding, na, undecided
from mmload.verdict.measured import Measured
from mmload.verdict.streams import Stream

JUDGED_STREAMS = 5  # the busiest buckets whose enforcement is judged
SLACK = 2.0  # requests: what rounding and a moment's reordering may add at once


def offered_beyond(s: Stream, per_sec: float, capacity: int | None, tolerance: float) -> bool:
    """Whether the stream surely offered its bucket more than the documented limit admits:
    with a burst, more than capacity + rate x the longest the interval may have lasted; with a
    rate alone, more than twice the rate over the whole run and a second's worth besides (no
    sane burst admits that)."""
    if len(s) < 2:
        return False
    rate = per_sec * (1 + tolerance)
    if capacity is None:
        span = float(s.answered[-1] - s.t[0])
        return len(s) > rate * (2 * span + 1) + SLACK
    over = rates.excess(s.t, s.answered, rate, minus=rates.in_flight(s.t, s.answered))
    return over > capacity * (1 + tolerance) + SLACK


def through(s: Stream, per_sec: float, capacity: int, tolerance: float) -> str:
    """Why more got through than the documented limit admits ("" when it did not): more
    acceptances in some interval than capacity + rate x its longest possible length."""
    t, a = s.t[s.accepted], s.answered[s.accepted]
    rate = per_sec * (1 + tolerance)
    got = rates.excess(t, a, rate, minus=rates.in_flight(t, a))
    if got > capacity * (1 + tolerance) + SLACK:
        return (
            f"{got:.0f} requests went through beyond {rate:.3g}/s in one interval, more "
            f"than the {capacity} at once the documentation allows"
        )
    return ""


def limit_enforced(c: Context) -> Finding:
    """Refusals once a bucket is offered more than documented, and never more through than
    the documented limit admits.  A bucket that refused nothing was offered too little to tell,
    unless it was surely offered more than the documented limit admits."""
    m = c.measured
    expected = f"refusals once a bucket is offered more than {c.documented}"
    judged = [s for s in m.streams[:JUDGED_STREAMS] if len(s) >= 2]
    if not judged:
        return undecided(expected, "no request was answered")
    limited = []
    for s in judged:
        doc = c.documented.for_endpoint(_route(s, c))
        refused = int(s.limited.sum())
        if not refused and offered_beyond(s, doc.per_sec, doc.capacity, c.tolerance):
            span = float(s.answered[-1] - s.t[0])
            return Finding(
                False,
                expected,
                "no refusal",
                f"no request was refused although a bucket was offered {len(s)} in "
                f"{span:.1f} s, far beyond {doc}",
            )
        why = (
            through(s, doc.per_sec, doc.capacity, c.tolerance)
            if refused and doc.capacity is not None
            else ""
        )
        if why:
            return Finding(
                False,
                expected,
                f"{refused} of {len(s)} refused, but too many accepted",
                f"the server refuses some requests, but {why}",
            )
        if refused:
            limited.append((s, doc))
    if not limited:
        busiest = judged[0]
        span = float(busiest.answered[-1] - busiest.t[0])
        return undecided(
            expected,
            f"nothing was refused, and the busiest bucket was offered "
            f"{len(busiest)} requests in {span:.1f} s, no more than the documented "
            f"limit admits: the limit is at least that, but the client never "
            f"offered more",
        )
    s, doc = limited[0]
    observed = f"{int(s.limited.sum())} of {len(s)} refused"
    if doc.capacity is None and m.interval is None:  # nothing bounds what got through
        return undecided(
            expected,
            f"{observed}, but no bucket stayed saturated long enough to "
            "show that the server holds it to a rate (and no burst is documented "
            "to hold what got through to)",
            observed,
        )
    return Finding(
        True,
        expected,
        observed,
        f"the server limits: {observed}, and no more got through than {doc} admits",
    )


def _route(s: Stream, c: Context) -> str:
    """The documented route a stream's requests all go to ("" for the general limit)."""
    return s.route if s.route in {r.endpoint for r in c.documented.routes} else ""


def rate_matches(c: Context) -> Finding:
    """The enforced rate's interval against the documented rate and the tolerance: inside,
    outside, or across its edge (then the run cannot say); each documented route's, measured
    on its own buckets, against its own rate."""
    general = _rate_matches(c, c.documented.per_sec, c.measured.interval, "")
    found = [general] + [
        _rate_matches(c, r.per_sec, c.measured.routes.get(r.endpoint), r.endpoint)
        for r in c.documented.routes
        if c.measured.routes.get(r.endpoint) is not None
    ]
    if len(found) == 1:
        return general
    passed = (
        False
        if any(f.passed is False for f in found)
        else None
        if any(f.passed is None for f in found)
        else True
    )
    return Finding(
        passed,
        "; ".join(f.expected for f in found),
        "; ".join(f.observed for f in found),
        "; ".join(f.message for f in found if f.passed is passed),
    )


def _rate_matches(
    c: Context,
    documented: float,
    i: rates.RateInterval | None,
    route: str,
) -> Finding:
    m = c.measured
    on = f" on {route}" if route else ""
    expected = f"{documented:g}/s ± {c.tolerance:.0%}{on}"
    if i is None:
        return undecided(expected, "no bucket was saturated long enough to measure its rate")
    observed = _interval_words(i) + on
    low, high = documented * (1 - c.tolerance), documented * (1 + c.tolerance)
    off = (i.rate - documented) / documented
    k = 1 if route else m.buckets_per_key
    nodes = f" ({i.rate / k:.3g}/s from each of {k} buckets)" if k > 1 else ""
    message = (
        f"the server enforces {observed}, {off:+.1%} from the documented {documented:g}/s{nodes}"
    )
    if i.within(low, high):
        return Finding(True, expected, observed, message)
    if i.outside(low, high):
        return Finding(False, expected, observed, message)
    return undecided(
        expected,
        f"the enforced rate{on} lies in {observed}, which reaches across "
        f"the tolerance's edge ({low:.4g}..{high:.4g}/s): a longer or harder "
        "saturated load narrows it",
        observed,
    )


def _interval_words(i: rates.RateInterval) -> str:
    high = f"{i.high:.4g}" if np.isfinite(i.high) else "∞"
    return f"{i.rate:.4g}/s ({i.low:.4g}..{high}/s over {i.seconds:.1f} s saturated)"


def per_node(m: Measured) -> str:
    """Several buckets behind each key, in words ("" for one)."""
    k = m.buckets_per_key
    if k < 2:
        return ""
    return (
        f"{k} buckets serve each key, so this is per-node limiting: each node of a cluster "
        f"behind a balancer limits on its own, and clients get {k}x the rate and burst of "
        "one node"
    )


def burst_matches(c: Context) -> Finding:
    """What a bucket let through at once beyond the rate, against the documented burst.  More
    than documented fails whatever the bucket held at the start; less fails only where a bucket
    was shown full (its headers said so, or a pause refilled it): a bucket a previous run left
    half empty holds less, and is no evidence."""
    m, doc = c.measured, c.documented
    if doc.burst is None or doc.capacity is None:
        return na("-", "the documentation gives no burst")
    expected = f"{doc.capacity} at once (burst {doc.burst})"
    b = m.capacity_bounds
    if b is None or m.burst is None:
        return undecided(
            expected, "no rate was measured, so what went through beyond it is not known"
        )
    slack = max(SLACK, c.tolerance * doc.capacity)
    observed = f"{b.point:.0f} beyond the rate (burst {m.burst}; at least {b.low:.0f})"
    nodes = f" ({m.buckets_per_key} buckets per key)" if m.buckets_per_key > 1 else ""
    if b.low > doc.capacity + slack:
        return Finding(
            False,
            expected,
            observed,
            f"at least {b.low:.0f} requests went through at once beyond the steady "
            f"rate: more than the documented burst of {doc.burst} "
            f"({doc.capacity} at once){nodes}",
        )
    if b.high >= doc.capacity - slack:
        full = "" if b.full_high is not None else " (no response said the bucket was full)"
        return Finding(
            True,
            expected,
            observed,
            f"at most {b.point:.0f} requests went through beyond the steady rate in "
            f"any interval: that matches the documented burst of {doc.burst} "
            f"({doc.capacity} at once){full}{nodes}",
        )
    if b.full_high is not None and b.full_high < doc.capacity - slack:
        return Finding(
            False,
            expected,
            observed,
            f"from a full bucket, at most {b.full_high:.0f} requests went through "
            f"beyond the steady rate: fewer than the documented burst of "
            f"{doc.burst} ({doc.capacity} at once){nodes}",
        )
    return undecided(
        expected,
        f"at most {b.high:.0f} went through at once, fewer than "
        f"documented, but no bucket was shown full (a previous run may have "
        "left it half empty: its headers' Remaining, or a pause long enough to "
        "refill it, would tell)",
        observed,
    )


def scope_matches(c: Context) -> Finding:
    """The run said what the server keys its limit on (``--vary-by``): does it?  Where the
    clients cannot tell the expected scope from another (one address: its bucket is everybody's;
    each user from an address of its own: per user is per address), only what they can tell is
    held against the server: from several addresses, one bucket for all is not one per address."""
    found, expected_scope = c.measured.scope, c.expected_scope
    expected = f"a bucket {expected_scope}"
    if found.scope == "unknown":
        return undecided(expected, f"the scope was not found: {found.evidence}")
    same = {found.scope, *found.also}
    if expected_scope in same and {"per-address", "per-user"} <= same:
        return undecided(
            expected,
            f"each user sent from an address of its own, so a bucket per "
            f"user and one per address are the same buckets: {found.evidence}",
        )
    ok = expected_scope in same
    seen = (
        found.scope
        if found.scope == expected_scope
        else f"{found.scope} (here the same buckets as {expected_scope})"
    )
    message = (
        f"one bucket {seen}, as expected: {found.evidence}"
        if ok
        else f"the server keeps one bucket {found.scope}, not {expected_scope}: {found.evidence}"
    )
    return Finding(ok, expected, found.scope, message)


def one_bucket_per_key(c: Context) -> Finding:
    """A key is served by one bucket; a round-robin balancer over nodes that each keep their own
    store gives it one per node.  What that does to the rate and burst, their checks judge."""
    m = c.measured
    expected = "one bucket per key"
    if not any(s.has_headers for s in m.streams):
        why = "without rate-limit headers, buckets behind one key cannot be told apart"
        return undecided(expected, why)
    if not scope.chain_counts(m.streams):
        why = "no bucket drained quickly enough to count the sequences its Remaining falls in"
        return undecided(expected, why)
    k = m.buckets_per_key
    observed = f"{k} bucket{'s' if k > 1 else ''} per key"
    if k == 1:
        return Finding(
            True, expected, observed, "Remaining falls in one sequence per key while it drains"
        )
    return Finding(
        False,
        expected,
        observed,
        f"Remaining falls in {k} interleaved sequences per key: {per_node(m)}",
    )


def mattermost_responses(c: Context) -> Finding:
    """Mattermost answers a 429 with ``limit exceeded`` and other errors with AppError JSON; a
    proxy in front of it answers with its own pages.  Not what the server enforces: a warning."""
    expected = "429: 'limit exceeded'; other errors: AppError JSON"
    if not c.mattermost:
        return na(expected, "the target is not Mattermost")
    if not c.bodies:
        return na(expected, "no error response was looked at")
    odd = []
    for status, shapes in sorted(c.bodies.items()):
        want = LIMIT_EXCEEDED if status == "429" else APPERROR
        others = {shape: n for shape, n in shapes.items() if shape != want}
        if others:
            odd.append(f"{status}: " + ", ".join(f"{n} {shape}" for shape, n in others.items()))
    looked = ", ".join(f"{sum(v.values())} {k}" for k, v in sorted(c.bodies.items()))
    if not odd:
        return Finding(
            True, expected, f"as expected ({looked})", "error responses look like Mattermost's"
        )
    return Finding(
        False,
        expected,
        "; ".join(odd),
        "some error responses do not look like Mattermost's (a proxy answering in "
        "its place?): " + "; ".join(odd),
    )
