"""``no-limiting-below-limit``: refusals a bucket of the documented rate and burst would not
have made.

The documented bucket (GCRA, a little stricter than documented: the tolerance in the server's
favour) is fed the server's own acceptances, each as late as it may have been decided (its
answer), and a refusal is early only when, even decided as early as it may have been (its
send), it found that bucket with room.  What it held at the start is what the first response's
Remaining says; without headers nothing says, and a refusal is early for sure only if the
bucket would have had room even starting empty, and early "if it started full" otherwise: a
previous run may have left it half empty.  Few enough early refusals to be rounding pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmload.limiter.gcra import emission_interval_s, tolerance_s
from mmload.limiter.rate import Documented
from mmload.verdict.findings import Context, Finding
from mmload.verdict.measured import Measured
from mmload.verdict.streams import Stream

JUDGED_STREAMS = 50
ALLOWED = 0.01  # of the refusals, early ones that rounding may explain (and at least 2)


@dataclass(frozen=True)
class Early:
    sure: int  # early even if the bucket started empty
    if_full: int  # early if it started as its headers say, or full when they say nothing
    refused: int


def no_limiting_below(c: Context) -> Finding:
    m = c.measured
    expected = f"no refusal while a bucket stays within {c.documented}"
    refused = sum(int(s.limited.sum()) for s in m.streams)
    if not refused:
        return Finding(True, expected, "no refusal", "nothing was refused")
    found = [early(s, _documented(s, c), c.tolerance) for s in m.streams[:JUDGED_STREAMS]]
    sure, if_full = sum(e.sure for e in found), sum(e.if_full for e in found)
    allowed = max(2, ALLOWED * refused)
    if sure > allowed and _routes_guessed(m):
        return Finding(
            None,
            expected,
            f"{sure} of {refused} refusals may have come below",
            f"not decided: {sure} refusals came early for a bucket per route, but "
            "without rate-limit headers the run cannot tell buckets per route from "
            "one the routes share (a proxy's limit on every location)",
        )
    if sure > allowed:
        return Finding(
            False,
            expected,
            f"{sure} of {refused} refusals came below the documented limit",
            f"{sure} requests were refused although their bucket was within "
            f"{c.documented}, whenever the server decided them",
        )
    if if_full > allowed:
        return Finding(
            None,
            expected,
            f"{if_full} of {refused} refusals may have come below",
            f"not decided: {if_full} refusals came while a bucket that started the run "
            f"full would have been within {c.documented}, but nothing says how full "
            "it was (no headers): a previous run may have left it half empty",
        )
    return Finding(
        True,
        expected,
        f"{sure} of {refused} refusals came below",
        f"every refusal came once its bucket had had {c.documented}",
    )


def _routes_guessed(m: Measured) -> bool:
    """Buckets per route inferred from acceptances alone: a guess the early refusals rest on."""
    return "endpoint" in m.scope.grouping and not any(s.has_headers for s in m.streams)


def _documented(s: Stream, c: Context) -> Documented:
    routes = {r.endpoint for r in c.documented.routes}
    return c.documented.for_endpoint(s.route if s.route in routes else "")


def early(s: Stream, doc: Documented, tolerance: float) -> Early:
    """The refusals of one stream that the documented bucket would not have made."""
    rate = doc.per_sec * (1 - tolerance)
    capacity = max(1, int((doc.capacity or 1) * (1 - tolerance)))
    refused = np.flatnonzero(s.limited)
    missing = start_missing(s, capacity)
    sure = _early(s, refused, rate, capacity, capacity if missing is None else missing)
    if_full = _early(s, refused, rate, capacity, 0 if missing is None else missing)
    return Early(int(sure.sum()), int(if_full.sum()), len(refused))


def start_missing(s: Stream, capacity: int) -> int | None:
    """Tokens a bucket of ``capacity`` lacked when the stream began, by the first response that
    says (a refusal: all of them; an acceptance: Limit - 1 - Remaining); None when none says."""
    known = np.flatnonzero(np.isfinite(s.remaining))
    if not len(known):
        return None
    first = int(known[0])
    if s.limited[first]:
        return capacity
    limit = s.limit[first]
    top = float(limit) - 1 if np.isfinite(limit) else float(np.nanmax(s.remaining))
    return int(min(capacity, max(0.0, top - float(s.remaining[first]))))


def _early(s: Stream, refused: np.ndarray, rate: float, capacity: int, missing: int) -> np.ndarray:
    """Per refusal, whether the documented bucket had room at its send, counting every
    acceptance sent before its answer at that acceptance's answer.  It changes only at
    acceptances (tat = max(t, tat) + EI), so it is stepped through those alone."""
    ei, dvt = emission_interval_s(rate), tolerance_s(rate, capacity)
    accepted = np.flatnonzero(s.accepted)
    answered = s.answered[accepted]
    start = float(s.t[0]) + missing * ei if len(s) else 0.0  # its state before the first request
    tats = np.empty(len(accepted) + 1)
    tats[0] = tat = start
    for k, t in enumerate(answered.tolist(), start=1):
        tat = max(t, tat) + ei
        tats[k] = tat
    before = np.searchsorted(s.t[accepted], s.answered[refused], side="right")
    tat_then = tats[before]  # after the acceptances sent before each refusal's answer
    sent = s.t[refused]
    return sent >= np.maximum(sent, tat_then) + ei - dvt
