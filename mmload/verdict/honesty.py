"""Whether what the headers promise comes true: Reset (when the limit resets) and Retry-After
(when to come back), each held to what the server then did with the requests that followed.

Both are whole seconds rounded up, so an honest value lies within a second above the truth;
``TIMING`` is what else may separate the client's view from the server's (when in a request's
round trip it decided, and the clock behind an epoch Reset, read from Date's whole seconds).
"""

from __future__ import annotations

import numpy as np

from mmload.results.record import limited_label
from mmload.verdict.findings import HONEST_SHARE, Context, Finding, na, undecided
from mmload.verdict.schema import WARNING
from mmload.verdict.streams import Stream

TIMING = 0.25  # seconds either side of what a whole-second header can say
MIN_RATE_SPREAD = 0.01  # of the measured rate, at least, when (Limit - Remaining) / rate is timed
MIN_WAITS = 3  # waits it takes to judge whether Retry-After is enough
MAX_JUDGED = 10_000  # refusals per bucket whose Reset is held to what followed


def reset_honest(c: Context) -> Finding:
    """What Reset promises against what happens: for a token bucket, the time until it is full
    again, (Limit - Remaining) / rate; for a window, when a refused request's window lets the
    next one through."""
    m = c.measured
    expected = "Reset agrees with when the bucket is full again (or the window resets)"
    streams = [s for s in m.general if s.has_headers and np.isfinite(s.reset).any()]
    if not streams:
        return na(expected, "no response said when the general limit resets")
    if m.rate is None:
        return undecided(expected, "no rate was measured to check Reset by")
    if m.buckets_per_key > 1:
        return na(
            expected,
            f"{m.buckets_per_key} buckets serve each key, "
            "and each response's Reset speaks for its own",
        )
    offset, unsure = clock_offset(m.streams) if m.reset_semantics == "epoch" else (None, 0.0)
    spread = max(MIN_RATE_SPREAD, 2 * (m.rate_uncertainty or 0.0) / m.rate)
    # a family not known, or not told apart from others: Reset is honest if it agrees with the
    # rules of one the decisions allow (a bucket's or a window's, when none is known)
    families = ["gcra", "window"] if m.algorithm == "unknown" else [m.algorithm, *m.tied]
    found = [
        np.concatenate(
            [
                _reset_agrees(s, promised(s, offset), m.rate, spread, family, unsure)
                for s in streams[:10]
            ]
        )
        for family in families
    ]
    hits = max(found, key=lambda h: float(h.mean()) if len(h) else -1.0)
    if not len(hits):
        return na(expected, "no response to check Reset on")
    share = float(hits.mean())
    observed = f"{share:.0%} of {len(hits)} agree"
    if share >= HONEST_SHARE:
        return Finding(
            True, expected, observed, f"Reset agrees with what the server does ({observed})"
        )
    return Finding(
        False, expected, observed, f"Reset does not say when the limit resets: only {observed}"
    )


def clock_offset(streams: list[Stream]) -> tuple[float, float]:
    """How far the server's clock is ahead of the client's, and how unsure that is (half the
    width of what is known).  The server wrote Date somewhere between the request's send and
    its answer, in its own clock rounded down to the second: each response puts the offset in
    (Date - answered, Date + 1 - sent), and every response holds, so their intersection.  Where
    they contradict each other (a clock that stepped, nodes whose clocks differ), a few
    responses are let go: the 1% at each end.  (0, 0) when no response said its Date."""
    low = np.concatenate([s.date - s.answered for s in streams] or [np.array([])])
    high = np.concatenate([s.date + 1 - s.t for s in streams] or [np.array([])])
    known = np.isfinite(low)
    low, high = low[known], high[known]
    if not len(low):
        return 0.0, 0.0
    lo, hi = float(low.max()), float(high.min())
    if lo > hi:
        lo, hi = float(np.quantile(low, 0.99)), float(np.quantile(high, 0.01))
    if lo > hi:  # still no common ground: the middle, as unsure as the disagreement
        lo, hi = hi, lo
    return (lo + hi) / 2, (hi - lo) / 2


def promised(s: Stream, offset: float | None) -> np.ndarray:
    """Seconds from each request's send time until its Reset: an epoch in the server's clock,
    ``offset`` ahead of the client's; without an offset, a delta."""
    return s.reset if offset is None else s.reset - (s.t + offset)


def _reset_agrees(
    s: Stream, until: np.ndarray, rate: float, spread: float, algorithm: str, unsure: float
) -> np.ndarray:
    if algorithm == "gcra":
        return _bucket_agrees(s, until, rate, spread, unsure)
    return _window_agrees(s, until, unsure)


def _bucket_agrees(
    s: Stream, until: np.ndarray, rate: float, spread: float, unsure: float
) -> np.ndarray:
    """throttled's Reset is ceil(ttl), and ttl lies within one emission interval below the time
    (Limit - Remaining) / rate the bucket takes to fill up; ``spread``: how far off the measured
    rate may be; the server counted from its decision, up to the request's round trip after
    its send, and ``unsure``: how well the server's clock is known (an epoch Reset)."""
    ok = np.isfinite(until) & np.isfinite(s.remaining) & np.isfinite(s.limit)
    full = (s.limit[ok] - s.remaining[ok]) / rate
    off = until[ok] - full
    slack = TIMING + spread * full + unsure + (s.answered - s.t)[ok]
    return (off >= -1.0 / rate - slack) & (off < 1.0 + slack)


def _window_agrees(s: Stream, until: np.ndarray, unsure: float) -> np.ndarray:
    """For each refusal, whether its Reset told when acceptance resumes: nothing accepted more
    than a second before it, and the first request sent after it accepted unless another was
    accepted first (one refused again, with nothing accepted since, came too early).  Refusals
    that nothing followed are not judged.  The server counted from its decision, somewhere in
    the request's round trip."""
    rows = np.flatnonzero(s.limited & np.isfinite(until))[:MAX_JUDGED]
    due = s.t[rows] + until[rows]
    timing = TIMING + unsure + (s.answered - s.t)[rows]
    resumed = next_accepted(s, rows)
    probe = np.maximum(np.searchsorted(s.t, due + timing, side="left"), rows + 1)
    early = np.append(s.t, np.inf)[resumed] < due - 1.0 - timing
    late = probe < resumed
    judged = (resumed < len(s)) | (probe < len(s))
    return ~(early | late)[judged]


def next_accepted(s: Stream, rows: np.ndarray) -> np.ndarray:
    """For each row, the index of the next accepted request in the stream (``len(s)``: none)."""
    accepted = np.append(np.flatnonzero(s.accepted), len(s))
    return accepted[np.searchsorted(accepted, rows, side="right")]


def retry_after_honest(c: Context) -> Finding:
    """On every 429; and honest: after a refusal, the first request sent once its Retry-After
    has passed is accepted, unless another was accepted in between (polite clients wait it out;
    under a hammer, others take what comes back first, and little can be judged)."""
    refusal = limited_label(c.limited)
    refusal = "refusal" if refusal == "limited" else refusal  # 429, or several statuses
    expected = f"Retry-After on every {refusal}, and a request sent after it is accepted"
    streams = c.measured.streams
    refused = sum(int(s.limited.sum()) for s in streams)
    if not refused:
        return na(expected, "nothing was refused")
    missing = sum(int((s.limited & ~np.isfinite(s.retry_after)).sum()) for s in streams)
    if missing == refused and not c.measured.dialect:
        return Finding(
            False,
            expected,
            "no Retry-After",
            f"no {refusal} said when to retry, nor did any response carry rate-limit headers "
            "(nginx's limit_req, say): RFC 6585 makes Retry-After optional, but clients "
            "can only guess when to come back",
            severity=WARNING,
        )
    if missing:
        return Finding(
            False,
            expected,
            f"{missing} of {refused} {refusal}s without it",
            f"{missing} of {refused} refusals carried no Retry-After",
        )
    hits = np.concatenate([after_waits(s) for s in streams[:20]])
    if len(hits) < MIN_WAITS:
        return undecided(
            expected,
            f"all {refused} {refusal}s said how long to wait, but too few requests came back "
            "only then to tell whether that was enough (the polite scenario "
            "tells)",
        )
    share = float(hits.mean())
    observed = f"present on all {refused}; {share:.0%} of {len(hits)} requests after it accepted"
    ok = share >= HONEST_SHARE
    message = (
        f"every {refusal} said how long to wait, and waiting that long was enough"
        if ok
        else f"after waiting Retry-After, only {share:.0%} of requests were accepted"
    )
    return Finding(ok, expected, observed, message)


def after_waits(s: Stream) -> np.ndarray:
    """For each refusal, whether the first request of its bucket sent at or after its
    Retry-After had passed was accepted; only where nothing was accepted in between (the
    request accepted first took what came back, so those after it tell nothing).  The wait
    counts from the answer, as a client's must: the server decided somewhere between the send
    and the answer, and a wait from the send may end before the server's does."""
    rows = np.flatnonzero(s.limited & np.isfinite(s.retry_after))
    due = s.answered[rows] + s.retry_after[rows]
    probes = np.maximum(np.searchsorted(s.t, due, side="left"), rows + 1)  # never the refusal
    inside = probes < len(s)
    rows, probes = rows[inside], probes[inside]
    quiet = next_accepted(s, rows) >= probes  # none accepted before the probe
    return s.accepted[probes[quiet]]
