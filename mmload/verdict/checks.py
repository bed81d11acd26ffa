"""The checks of a verdict: each compares what the server enforced with what it advertises and
what its documentation says, and says so in a sentence.

Severity: what the server *enforces* is an error when it is wrong (no limit, another rate or
burst, refusals below the limit, headers that contradict what it does, a dishonest Retry-After);
where the headers merely *mean* something else than the documentation says, a warning.  A check
the run cannot decide is not applicable (``passed`` None), never passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from mmload.limiter.rate import Documented
from mmload.results.samples import APPERROR, LIMIT_EXCEEDED
from mmload.verdict import models, scope
from mmload.verdict.measured import Measured
from mmload.verdict.streams import Stream

ERROR, WARNING = "error", "warning"
HONEST_SHARE = 0.95  # of the cases a header is checked on, the share that must hold


@dataclass(frozen=True)
class Check:
    id: str
    passed: bool | None  # None: the run cannot decide it
    severity: str
    expected: str
    observed: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Context:
    measured: Measured
    documented: Documented
    tolerance: float
    mattermost: bool  # the target is Mattermost, whose API documentation the warnings cite
    bodies: dict[str, dict[str, int]] = field(default_factory=dict)  # status -> shape -> count
    unread: Unread = field(default_factory=lambda: Unread(0, 0, ""))  # malformed headers


@dataclass(frozen=True)
class Unread:
    """Responses whose rate-limit headers could not be read (malformed), of all answered."""

    malformed: int
    answered: int
    example: str  # the most frequent problem, as the collector wrote it


def _na(check_id: str, severity: str, expected: str, why: str) -> Check:
    return Check(check_id, None, severity, expected, "-", f"not applicable: {why}")


def limit_enforced(c: Context) -> Check:
    m, doc = c.measured, c.documented
    expected = f"429s once a bucket is offered more than {doc}"
    busiest = m.streams[0] if m.streams else None
    if busiest is None or len(busiest) < 2:
        return _na("limit-enforced", ERROR, expected, "no request was answered")
    span = float(busiest.t[-1] - busiest.t[0])
    allowed = (doc.capacity or 1) + doc.per_sec * span * (1 + c.tolerance)
    refused = int(busiest.limited.sum())
    if len(busiest) <= allowed:
        return _na("limit-enforced", ERROR, expected,
                   f"the busiest bucket was offered {len(busiest)} requests in {span:.1f} s, "
                   f"no more than the documented limit admits")  # fmt: skip
    observed = f"{refused} of {len(busiest)} refused (429)"
    message = (f"the server limits: {observed}" if refused else
               f"no request was refused although the busiest bucket was offered "
               f"{len(busiest)} in {span:.1f} s, far beyond {doc}")  # fmt: skip
    return Check("limit-enforced", bool(refused), ERROR, expected, observed, message)


def rate_matches(c: Context) -> Check:
    m, doc = c.measured, c.documented
    expected = f"{doc.per_sec:g}/s ± {c.tolerance:.0%}"
    if m.rate is None:
        return _na("rate-matches-documented", ERROR, expected,
                   "no bucket was saturated long enough to measure its rate")  # fmt: skip
    observed = f"{m.rate:.3f}/s ± {m.rate_uncertainty or 0:.3f}"
    off = (m.rate - doc.per_sec) / doc.per_sec
    message = f"the server enforces {observed}, {off:+.1%} from the documented {doc.per_sec:g}/s"
    if m.buckets_per_key > 1:
        message += f" ({m.rate / m.buckets_per_key:.3g}/s from each): {per_node(m)}"
    return Check("rate-matches-documented", abs(off) <= c.tolerance, ERROR, expected, observed,
                 message)  # fmt: skip


def per_node(m: Measured) -> str:
    """Several buckets behind each key, in words ("" for one)."""
    k = m.buckets_per_key
    if k < 2:
        return ""
    return (f"{k} buckets serve each key, so this is per-node limiting: each node of a cluster "
            f"behind a balancer limits on its own, and clients get {k}x the rate and burst of "
            "one node")  # fmt: skip


def one_bucket_per_key(c: Context) -> Check:
    """A key is served by one bucket; a round-robin balancer over nodes that each keep their own
    store gives it one per node.  What that does to the rate and burst, their checks judge."""
    m = c.measured
    expected = "one bucket per key"
    if not any(s.has_headers for s in m.streams):
        why = "without rate-limit headers, buckets behind one key cannot be told apart"
        return _na("one-bucket-per-key", WARNING, expected, why)
    if not scope.chain_counts(m.streams):
        why = "no bucket drained quickly enough to count the sequences its Remaining falls in"
        return _na("one-bucket-per-key", WARNING, expected, why)
    k = m.buckets_per_key
    observed = f"{k} bucket{'s' if k > 1 else ''} per key"
    if k == 1:
        return Check("one-bucket-per-key", True, WARNING, expected, observed,
                     "Remaining falls in one sequence per key while it drains")  # fmt: skip
    message = f"Remaining falls in {k} interleaved sequences per key: {per_node(m)}"
    return Check("one-bucket-per-key", False, WARNING, expected, observed, message)


def burst_matches(c: Context) -> Check:
    m, doc = c.measured, c.documented
    if doc.burst is None:
        return _na("burst-matches-documented", ERROR, "-", "the documentation gives no burst")
    expected = f"{doc.capacity} at once (burst {doc.burst})"
    if m.capacity is None or m.burst is None:
        return _na("burst-matches-documented", ERROR, expected,
                   "no bucket was drained, so its capacity was not reached")  # fmt: skip
    observed = f"{m.capacity:.0f} beyond the rate (burst {m.burst})"
    slack = max(2.0, c.tolerance * (doc.burst + 1))
    ok = abs(m.capacity - (doc.burst + 1)) <= slack
    word = "matches" if ok else ("exceeds" if m.capacity > doc.burst + 1 else "falls short of")
    nodes = f" ({per_node(m)})" if m.buckets_per_key > 1 else ""
    return Check("burst-matches-documented", ok, ERROR, expected, observed,
                 f"at most {m.capacity:.0f} requests went through beyond the steady rate in "
                 f"any interval; that {word} the documented burst of {doc.burst} "
                 f"({doc.capacity} at once){nodes}")  # fmt: skip


def no_limiting_below(c: Context) -> Check:
    """Refusals a bucket of the documented rate and burst (none: one at a time), fed the
    server's own acceptances, would not have made; the tolerance in the server's favour."""
    m, doc = c.measured, c.documented
    expected = f"no 429 while a bucket stays within {doc}"
    refused = sum(int(s.limited.sum()) for s in m.streams)
    if not refused:
        return Check("no-limiting-below-limit", True, ERROR, expected, "no 429",
                     "nothing was refused")  # fmt: skip
    capacity = max(1, int((doc.capacity or 1) * (1 - c.tolerance)))
    documented = models.Params(doc.per_sec * (1 - c.tolerance), capacity, 1, 1.0)
    early = sum(_early_refusals(documented, s) for s in m.streams[:20])
    observed = f"{early} of {refused} refusals came below the documented limit"
    ok = early <= max(2, 0.01 * refused)
    message = (
        f"every refusal came once its bucket had had {doc}"
        if ok
        else f"{early} requests were refused although their bucket was within {doc}"
    )
    return Check("no-limiting-below-limit", ok, ERROR, expected, observed, message)


def _early_refusals(params: models.Params, s: Stream) -> int:
    """Refusals the documented bucket would have admitted.  It changes only at acceptances
    (tat = max(t, tat) + EI), so it is stepped through those alone and every refusal is then
    compared with the state after the acceptance before it."""
    ei = 1.0 / params.rate
    dvt = ei * params.capacity
    accepted = s.t[s.accepted]
    tats = np.empty(len(accepted))
    tat = -np.inf
    for k, t in enumerate(accepted.tolist()):
        tat = max(t, tat) + ei
        tats[k] = tat
    refused = s.t[s.limited]
    if not len(accepted):
        return len(refused)  # a fresh documented bucket admits the first request
    before = np.searchsorted(accepted, refused, side="left") - 1  # the acceptance before each
    tat_then = np.where(before >= 0, tats[np.maximum(before, 0)], -np.inf)
    admits = refused >= np.maximum(refused, tat_then) + ei - dvt
    return int(admits.sum())


def scope_matches(c: Context, expected_scope: str) -> Check:
    """The run said what the server keys its limit on (``--vary-by``): does it?  Where the
    clients cannot tell the expected scope from another (one address: its bucket is everybody's;
    each user from an address of its own: per user is per address), only what they can tell is
    held against the server: from several addresses, one bucket for all is not one per address."""
    found = c.measured.scope
    expected = f"a bucket {expected_scope}"
    if found.scope == "unknown":
        return _na("scope-matches", ERROR, expected, f"the scope was not found: {found.evidence}")
    same = {found.scope, *found.also}
    if expected_scope in same and {"per-address", "per-user"} <= same:
        return _na("scope-matches", ERROR, expected,
                   f"each user sent from an address of its own, so a bucket per user and one per "
                   f"address are the same buckets: {found.evidence}")  # fmt: skip
    ok = expected_scope in same
    seen = (found.scope if found.scope == expected_scope
            else f"{found.scope} (here the same buckets as {expected_scope})")  # fmt: skip
    message = (f"one bucket {seen}, as expected: {found.evidence}" if ok else
               f"the server keeps one bucket {found.scope}, not {expected_scope}: "
               f"{found.evidence}")  # fmt: skip
    return Check("scope-matches", ok, ERROR, expected, found.scope, message)


def mattermost_responses(c: Context) -> Check:
    """Mattermost answers a 429 with ``limit exceeded`` and other errors with AppError JSON; a
    proxy in front of it answers with its own pages.  Not what the server enforces: a warning."""
    expected = "429: 'limit exceeded'; other errors: AppError JSON"
    if not c.mattermost:
        return _na("mattermost-responses", WARNING, expected, "the target is not Mattermost")
    if not c.bodies:
        return _na("mattermost-responses", WARNING, expected, "no error response was looked at")
    odd = []
    for status, shapes in sorted(c.bodies.items()):
        want = LIMIT_EXCEEDED if status == "429" else APPERROR
        others = {shape: n for shape, n in shapes.items() if shape != want}
        if others:
            odd.append(f"{status}: " + ", ".join(f"{n} {shape}" for shape, n in others.items()))
    looked = ", ".join(f"{sum(v.values())} {k}" for k, v in sorted(c.bodies.items()))
    if not odd:
        return Check("mattermost-responses", True, WARNING, expected, f"as expected ({looked})",
                     "error responses look like Mattermost's")  # fmt: skip
    return Check("mattermost-responses", False, WARNING, expected, "; ".join(odd),
                 "some error responses do not look like Mattermost's (a proxy answering in its "
                 "place?): " + "; ".join(odd))  # fmt: skip


CHECKS: tuple[Callable[[Context], Check], ...] = (
    limit_enforced,
    rate_matches,
    burst_matches,
    no_limiting_below,
)
