"""What a bucket enforces, from its acceptances and refusals alone: a rate with an interval that
holds whenever the limiter decided each request somewhere between its send and its answer.

Resumptions.  An acceptance ``y`` after a refusal ``x`` decided before it is where the limiter
let requests through again (a token came back, a window opened): the moment ``o`` it opened
lies in ``(dec x, dec y]``, and each decision lies in ``[sent, answered]``.  ``x`` is the
latest refusal answered before ``y`` was sent, so that it surely was decided first.

Phase.  Between two resumptions ``p`` and ``q`` of one saturated span the limiter admitted
``n`` requests, and ``o_q - o_p = n / R + D``: ``D >= 0`` is time it stood open with nobody
taking what it offered (a GCRA bucket that filled up; a window opened by a latecomer).  So

    n / (answered y_q - sent x_p)  <=  R  <=  n / (sent x_q - answered y_p - D_max)

with ``n`` widened by the acceptances whose order against ``y_p`` or ``y_q`` is not known
(their send-to-answer intervals overlap).  ``D_max`` comes from the evidence, by family
(:func:`bucket_drift`, :func:`window_drift`).  Spans are broken where resumptions stop coming
regularly (a window that was not used up, a pause), and spans add up: ``n`` and the lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mmload.verdict.streams import Stream

MIN_SECONDS = 1.0  # saturated seconds it takes to measure a rate
IRREGULAR = 1.75  # a gap between resumptions this many times the median breaks a span
UNBOUNDED = 1e6  # s: the drift of an acceptance nothing bounds (finite, so that sums subtract)
MAX_STRIDE = 6  # phases per period a moving window may show
ROUNDS = 8  # at most, of (rate bound -> capacity bound -> drift, refusals) for GCRA's drift
ITERATIONS = 3  # ... of (rate bound -> capacity bound -> drift) for several buckets' drift


@dataclass(frozen=True)
class Resumptions:
    """Rows of the resumptions of a stream (send order) and, for each, the send time of the
    refusal that bounds its opening from below."""

    rows: np.ndarray
    after: np.ndarray  # send time of the latest refusal answered before the row was sent


@dataclass(frozen=True)
class RateInterval:
    low: float  # per second
    high: float  # per second; inf when nothing bounds it from above
    rate: float  # the count over the middle of the length bounds
    accepted: int  # acceptances counted
    seconds: float  # saturated time covered
    spans: int

    @property
    def width(self) -> float:
        """Relative width: (high - low) / rate."""
        return (self.high - self.low) / self.rate if self.rate > 0 else np.inf

    def within(self, low: float, high: float) -> bool:
        return low <= self.low and self.high <= high

    def outside(self, low: float, high: float) -> bool:
        return self.high < low or self.low > high


def resumptions(s: Stream) -> Resumptions:
    """Acceptances after a refusal that surely came first, at least half a token after the
    acceptance before them (a moving window frees its slots one by one as the burst that filled
    it expires; only the first of those opens a new period)."""
    acc, refused = s.accepted, np.flatnonzero(s.limited)
    rows = np.flatnonzero(acc[1:] & s.limited[:-1]) + 1
    accepted = np.flatnonzero(acc)
    if len(rows) < 2 or len(accepted) < 2:
        return Resumptions(rows[:0], np.empty(0))
    token = max(float(s.t[accepted[-1]] - s.t[accepted[0]]), 1e-9) / len(accepted)
    before = np.searchsorted(accepted, rows) - 1
    keep = (before >= 0) & (s.t[rows] - s.t[accepted[np.maximum(before, 0)]] >= 0.5 * token)
    rows = rows[keep]
    after = refused_before(s, refused, s.t[rows])
    known = np.isfinite(after)
    return Resumptions(rows[known], after[known])


def refused_before(s: Stream, refused: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each time, the send time of the latest refusal answered by then (-inf: none)."""
    if not len(refused):
        return np.full(len(times), -np.inf)
    order = np.argsort(s.answered[refused], kind="stable")
    answered = s.answered[refused][order]
    latest = np.maximum.accumulate(s.t[refused][order])
    k = np.searchsorted(answered, times, side="right") - 1
    return np.where(k >= 0, latest[np.maximum(k, 0)], -np.inf)


def stride(s: Stream, r: Resumptions) -> tuple[int, float] | None:
    """How many resumptions one period of the limiter holds, and the acceptances a period
    holds: 1 for a bucket (each token comes back alone) or a window opened once a period; more
    for a moving window whose slots free at several moments (the logins' slots, then the
    burst's).  The smallest step over which the acceptances between resumptions stay the same:
    only resumptions that far apart are at the same phase.  Failing that, the smallest step at
    which two thirds of them (two at least) do and no two resumptions next to each other hold
    more than a period (the others straddle a resumption out of phase: a moving window's slots
    freed with a gap among them).  None: no step is regular; resumptions' phases are unknown."""
    done = np.concatenate([[0], np.cumsum(s.accepted)])[r.rows]
    largest = float(np.max(np.diff(done))) if len(done) > 1 else 0.0
    for strict in (True, False):
        for step in range(1, MAX_STRIDE + 1):
            counts = done[step:] - done[:-step]
            if len(counts) < 2:
                break
            middle = float(np.median(counts))
            tolerance = max(1.0, 0.1 * middle)
            if strict:
                low, high = np.percentile(counts, [10, 90])
                if high - low <= tolerance:
                    return step, middle
                continue
            agree = np.abs(counts - middle) <= tolerance
            if agree.sum() >= 2 and agree.mean() >= 2 / 3 and largest <= middle + tolerance:
                return step, middle
    return None


def spans(
    s: Stream,
    r: Resumptions,
    idle: float = np.inf,
    regular: bool = True,
    late: np.ndarray | None = None,
    phased: bool = False,
) -> list[tuple[int, int, int]]:
    """(first, last, step) indices into ``r`` of runs of resumptions at one phase (``step``
    apart), with no pause longer than ``idle`` between any two requests in between; with
    ``regular``, broken where resumptions stop coming regularly (a window not used up); with
    ``phased`` (a window whose phase moves with its openers), also where a period holds other
    than the period's count (a pair out of phase), and with step 0 where no regular period
    shows over three resumptions or more: consecutive resumptions whose phases are not known
    (two alone are taken to be a period apart); with ``late`` (the running sum
    of each row's drift), broken where the phase may have shifted by more than a new span's
    two ends cost (twice the typical time between a resumption and its refusal)."""
    if len(r.rows) < 2:
        return []
    pauses = np.concatenate([[0], np.cumsum(np.diff(s.t) > idle)])  # a new part after each
    opening = float(np.median(s.answered[r.rows] - r.after))
    period = stride(s, r)
    unknown = period is None and phased and len(r.rows) > 2  # one pair: nothing to check
    step, count = period if period is not None and phased else ((period or (1, 0.0))[0], np.nan)
    done = np.concatenate([[0], np.cumsum(s.accepted)])
    found = []
    for phase in range(step):
        picked = np.arange(phase, len(r.rows), step)
        if len(picked) < 2:
            continue
        rows = r.rows[picked]
        cut = np.diff(pauses[rows]) > 0
        if regular and not unknown:  # out of phase, resumptions come irregularly anyway
            gaps = np.diff(s.t[rows])
            cut |= gaps > IRREGULAR * max(float(np.median(gaps)), 1e-9)
            if np.isfinite(count):
                cut |= np.abs(np.diff(done[rows]) - count) > max(1.0, 0.1 * count)
        if late is not None:
            cut |= np.diff(late[rows]) > 2 * opening
        breaks = np.flatnonzero(cut)
        starts = [0, *(breaks + 1).tolist()]
        ends = [*breaks.tolist(), len(picked) - 1]
        found += [
            (int(picked[a]), int(picked[b]), 0 if unknown else step)
            for a, b in zip(starts, ends, strict=True)
            if b > a
        ]
    return found


def ambiguous(s: Stream, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``: the acceptances (other than itself) that may have been decided on
    either side of it, those sent before it was answered and answered after it was sent: all
    sent before its answer, less those answered by its send (which were sent before it too)."""
    t, a, accepted = s.t, s.answered, ~s.limited
    sent = t[accepted]  # in order, as the stream is
    answered = np.sort(a[accepted])
    before = np.searchsorted(sent, a[rows], side="left")
    done = np.searchsorted(answered, t[rows], side="right")
    return np.maximum(0, before - done - accepted[rows])


def interval(
    s: Stream,
    r: Resumptions,
    drift: np.ndarray,
    idle: float = np.inf,
    bucket: bool = False,
    buckets: int = 1,
    phased: bool = False,
) -> RateInterval | None:
    """The rate over every span of ``r``; ``drift``: per row of ``s``, how much later than the
    limiter opened an acceptance there may have come, in a way that shifts its phase; ``idle``:
    the longest pause between requests that keeps a span saturated; ``bucket``: a token bucket,
    whose drift says where its phase was lost (a window's openings must come regularly instead);
    ``buckets`` behind the stream's key: a resumption sets the phase of one only, and each of
    the others may hold anything up to its capacity then (one a balancer sent less to still
    holds some of its burst), so the count may be that far off; ``phased``: a window whose
    phase moves with its openers, only resumptions a whole period apart pair up (where no
    period shows, each span's count and length may be off by up to a period: see
    :func:`_period_bounds`)."""
    done = np.concatenate([[0], np.cumsum(s.accepted)])  # acceptances before each row
    late = np.concatenate([[0.0], np.cumsum(np.where(s.accepted, drift, 0.0))])
    others = 0
    if buckets > 1:  # each other bucket: up to its share of the first burst, and one more
        others = round((buckets - 1) * (1 + (fresh_burst(s) or 0) / buckets))
    n_sum = amb_sum = 0
    long_sum = short_sum = 0.0
    used = 0
    unsure = s.answered[r.rows] - r.after  # how long each opening may lie before its resumption
    sharp = unsure <= 2 * float(np.median(unsure)) if len(unsure) else unsure.astype(bool)
    found = spans(s, r, idle, not bucket, late if bucket else None, phased and not bucket)
    period_n, period_t = _period_bounds(s, r) if any(f[2] == 0 for f in found) else (0, 0.0)
    ends = [(*_sharp_ends(sharp, f, g, max(step, 1)), step) for f, g, step in found]
    at_ends = np.array([r.rows[[f, g]] for f, g, _ in ends], dtype=np.int64).reshape(-1, 2)
    both = ambiguous(s, at_ends.ravel()).reshape(-1, 2).sum(axis=1) if len(ends) else []
    for (first, last, step), (p, q), amb_ends in zip(ends, at_ends.tolist(), both, strict=True):
        n = int(done[q] - done[p])
        amb = int(amb_ends) + others + (period_n if step == 0 else 0)
        off = period_t if step == 0 else 0.0
        longest = float(s.answered[q] - r.after[first]) + off
        shortest = float(r.after[last] - s.answered[p] - (late[q] - late[p])) - off
        if n < 1 or shortest <= 0:
            continue
        n_sum, amb_sum, used = n_sum + n, amb_sum + amb, used + 1
        long_sum, short_sum = long_sum + longest, short_sum + shortest
    if not used or long_sum < MIN_SECONDS:
        return None
    low = max(n_sum - amb_sum, 0) / long_sum
    high = (n_sum + amb_sum) / short_sum
    rate = n_sum / ((long_sum + short_sum) / 2)
    return RateInterval(low, high, rate, n_sum, (long_sum + short_sum) / 2, used)


def _period_bounds(s: Stream, r: Resumptions) -> tuple[int, float]:
    """The most acceptances, and the longest time, that ``MAX_STRIDE`` resumptions in a row
    span: a period holds at most these, whatever its phases (a pair of resumptions out of
    phase is within a period of one in phase)."""
    done = np.concatenate([[0], np.cumsum(s.accepted)])[r.rows]
    times = s.t[r.rows]
    k = min(MAX_STRIDE, len(done) - 1)
    if k < 1:
        return 0, 0.0
    return int(np.max(done[k:] - done[:-k])), float(np.max(times[k:] - times[:-k]))


def _sharp_ends(sharp: np.ndarray, first: int, last: int, step: int = 1) -> tuple[int, int]:
    """The span's ends moved in to resumptions of its phase (``step`` apart) whose opening is
    known about as well as most: one after a pause (tokens came back all along it) would widen
    the whole span's interval."""
    inside = np.flatnonzero(sharp[first : last + 1 : step]) * step + first
    if len(inside) < 2:
        return first, last
    return int(inside[0]), int(inside[-1])


def window_drift(s: Stream, r: Resumptions) -> np.ndarray:
    """Windows: a period opens when the last one's first request expires, so each opener that
    came late shifts every later period; it came at most (its answer - the refusal before it)
    late.  Nothing else shifts the phase."""
    drift = np.zeros(len(s))
    drift[r.rows] = s.answered[r.rows] - r.after
    return drift


def bucket_drift(s: Stream, rate_high: float, capacity_low: float) -> np.ndarray:
    """GCRA: an acceptance shifts the phase only when the bucket was full, and after a refusal
    ``x`` and ``m`` acceptances since, it holds at most ``capacity - 1 - m`` tokens... so it
    cannot be full before ``(capacity - 1 + m) / rate`` has passed since ``x``."""
    refused = np.flatnonzero(s.limited)
    accepted = np.flatnonzero(s.accepted)
    drift = np.zeros(len(s))
    if not len(accepted):
        return drift
    t, a = s.t[accepted], s.answered[accepted]
    since = refused_before(s, refused, t)
    answered_x = _answered_before(s, refused, t)
    sent_since = np.searchsorted(t, t, side="left") - np.searchsorted(t, answered_x, side="right")
    m = np.maximum(sent_since - in_flight(t, a), 0)
    free = a - since - (max(capacity_low, 1.0) - 1 + m) / rate_high
    drift[accepted] = np.where(np.isfinite(since), np.maximum(free, 0.0), UNBOUNDED)
    return drift


def _answered_before(s: Stream, refused: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each time, the answer time of the refusal :func:`refused_before` picks."""
    if not len(refused):
        return np.full(len(times), -np.inf)
    order = np.argsort(s.answered[refused], kind="stable")
    answered = s.answered[refused][order]
    sent = s.t[refused][order]
    best = np.maximum.accumulate(sent)
    which = np.maximum.accumulate(np.where(sent >= best, np.arange(len(sent)), 0))
    k = np.searchsorted(answered, times, side="right") - 1
    return np.where(k >= 0, answered[which[np.maximum(k, 0)]], -np.inf)


def bucket_interval(s: Stream, r: Resumptions, buckets: int = 1) -> RateInterval | None:
    """The interval for a token bucket: the drift bound needs the rate's upper bound and the
    capacity's lower bound, which need each other.  From the side that surely holds: a bucket
    of one token, its rate bounded only by refusals that came soon after an acceptance
    (:func:`refusal_bound`), then rounds of (rate bound -> capacity bound -> drift, refusals),
    each of which holds since the last did.  Where no round bounds the rate from above (the
    bucket may have stood open between acceptances: a client that cannot offer much more than
    the rate), only the lower bound holds; where two rounds contradict each other, the stream
    is not one bucket's.  Several buckets behind the key: see :func:`_buckets_interval`."""
    if buckets > 1:
        return _buckets_interval(s, r, buckets)
    high, capacity = np.inf, 1.0
    found: RateInterval | None = None
    for _ in range(ROUNDS):
        before = high
        high = min(high, refusal_bound(s, capacity))
        wider = interval(s, r, bucket_drift(s, high, capacity), bucket=True)
        if wider is not None:
            if found is not None and (wider.low > found.high or wider.high < found.low):
                return None
            found = wider if found is None else intersect(found, wider)
            high = min(high, found.high)
        more = capacity_low(s, high) if np.isfinite(high) else capacity
        if high >= before * (1 - 1e-9) and more <= capacity * (1 + 1e-9):
            break
        capacity = max(capacity, more)
    if found is None:
        unsure = interval(s, r, np.zeros(len(s)), bucket=True)
        found = None if unsure is None else replace(unsure, high=np.inf)
    if found is None or found.low > high:
        return None
    return intersect(found, replace(found, high=high))


def _buckets_interval(s: Stream, r: Resumptions, buckets: int) -> RateInterval | None:
    """Several buckets behind the stream's key: a refusal tells nothing of another bucket's
    acceptances, so nothing bounds the rate from the side that surely holds; a few rounds from
    no drift instead (a reading as good as the buckets were kept saturated)."""
    found = interval(s, r, np.zeros(len(s)), bucket=True, buckets=buckets)
    for _ in range(ITERATIONS):
        if found is None or not np.isfinite(found.high):
            return found
        capacity = capacity_low(s, found.high) / buckets
        wider = interval(s, r, bucket_drift(s, found.high, capacity), bucket=True, buckets=buckets)
        if wider is None or wider.high <= found.high:
            return wider if wider is not None else found
        found = wider
    return found


def refusal_bound(s: Stream, capacity: float) -> float:
    """The rate a refusal ``x`` bounds, soon after an acceptance ``a``: a bucket of ``c >=
    capacity`` tokens holds at least ``min(c, R dt) - m`` at ``x`` (``dt`` at least ``sent x -
    answered a``, ``m`` acceptances decided in between), less than one since it refused, so
    ``R < (m + 1) / dt`` wherever ``m < c``.  For each refusal, the earliest acceptance with
    fewer than ``capacity`` others that may lie in between."""
    accepted, refused = np.flatnonzero(s.accepted), np.flatnonzero(s.limited)
    if not len(accepted) or not len(refused):
        return np.inf
    sent, answered = s.t[accepted], s.answered[accepted]
    k = max(1, int(np.floor(capacity + 1e-9)))
    before = np.searchsorted(sent, s.answered[refused], side="left")  # sent before x answered
    done = np.searchsorted(np.sort(answered), sent, side="right")  # answered by a was sent
    a = np.searchsorted(done, before - k, side="left")  # others in between: before - done - 1
    known = a < len(sent)
    gap = s.t[refused][known] - answered[a[known]]
    gap = gap[gap > 0]
    return float(k / np.max(gap)) if len(gap) else np.inf


def intersect(a: RateInterval, b: RateInterval) -> RateInterval:
    """Two readings that both hold: what both allow (the second's count and length)."""
    low, high = max(a.low, b.low), min(a.high, b.high)
    return replace(b, low=low, high=high, rate=min(max(b.rate, low), high))


def first_rate(s: Stream, buckets: int = 1) -> RateInterval | None:
    """A rate before the family is known (to fit the models, to tell the scope): its point
    over runs of regular resumptions (which leaves out a window's settling after the first
    burst), its bounds as a bucket would have them, widened to hold the point.  Regular runs
    that cover much less time than the bucket's spans are bursts of a stream that is not one
    bucket (a client's share of one): the bucket's rate then.  Where the stream contradicts
    one bucket (a share of one, a window), the bucket's rate as if no drift: a point, for
    the long run, whose bounds are no reading's."""
    r = resumptions(s)
    regular = interval(s, r, np.zeros(len(s)), buckets=buckets)
    bucket = bucket_interval(s, r, buckets) or interval(
        s, r, np.zeros(len(s)), bucket=True, buckets=buckets
    )
    if regular is None or bucket is None:
        return bucket or regular
    if regular.seconds < 0.5 * bucket.seconds:
        return bucket
    low, high = min(bucket.low, regular.rate), max(bucket.high, regular.rate)
    return RateInterval(low, high, regular.rate, bucket.accepted, bucket.seconds, bucket.spans)


def quick_rate(s: Stream, buckets: int = 1) -> RateInterval | None:
    """The stream's rate as a token bucket would have it (before any family is known)."""
    return bucket_interval(s, resumptions(s), buckets)


def excess(
    first: np.ndarray,
    last: np.ndarray,
    rate: float,
    starts: np.ndarray | None = None,
    minus: np.ndarray | None = None,
) -> float:
    """The most requests an interval holds beyond ``rate`` x its length, the interval from the
    ``first`` time of one request to the ``last`` time of a later one (arrays in send order);
    ``starts``: which requests an interval may start at (a mask); ``minus``: per end request,
    what to take off its count (those whose order is not known)."""
    if not len(first):
        return 0.0
    k = np.arange(len(first), dtype=np.float64)
    opening = k - rate * first
    if starts is not None:
        opening = np.where(starts, opening, np.inf)
    lowest = np.minimum.accumulate(opening)
    found = (k + 1 - rate * last) - lowest - (0 if minus is None else minus)
    found = found[np.isfinite(found)]
    return float(max(0.0, np.max(found))) if len(found) else 0.0


def in_flight(t: np.ndarray, a: np.ndarray) -> np.ndarray:
    """For each request of (t, a) in send order, how many others were sent before it and
    answered after it was sent: they may have been decided after it."""
    return np.searchsorted(t, t, side="left") - np.searchsorted(np.sort(a), t, side="right")


def capacity_low(s: Stream, rate_high: float) -> float:
    """What the bucket surely holds at once: the most acceptances of an interval beyond
    ``rate_high`` x its longest possible length, less those whose order is unknown."""
    t, a = s.t[s.accepted], s.answered[s.accepted]
    return excess(t, a, rate_high, minus=in_flight(t, a))


def capacity_high(s: Stream, rate_low: float, starts: np.ndarray | None = None) -> float:
    """The most acceptances of an interval beyond ``rate_low`` x its shortest possible length:
    at least what the bucket held there (``starts``: rows it was full at, the only ones an
    interval may start from)."""
    t, a = s.t[s.accepted], s.answered[s.accepted]
    mask = None if starts is None else np.isin(np.flatnonzero(s.accepted), starts)
    return excess(a, t, rate_low, mask)


def max_excess(times: np.ndarray, rate: float) -> float:
    """The most requests any interval of ``times`` (sorted) holds beyond ``rate`` x its length."""
    if not len(times):
        return 0.0
    c = np.arange(len(times)) - rate * (times - times[0])
    return float(1 + np.max(c - np.minimum.accumulate(c)))


def fresh_burst(s: Stream) -> int | None:
    """Acceptances before the first refusal: what a fresh key got at once (None if no refusal)."""
    refused = np.flatnonzero(s.limited)
    if not len(refused):
        return None
    return int(s.accepted[: refused[0]].sum())


def offered_rate(s: Stream) -> float:
    """Requests per second the stream sent over its whole length."""
    if len(s) < 2 or s.t[-1] <= s.t[0]:
        return 0.0
    return float((len(s) - 1) / (s.t[-1] - s.t[0]))


def hull(found: list[RateInterval]) -> RateInterval | None:
    """What any of several readings allows: the rules they were measured by are not known."""
    if not found:
        return None
    low, high = min(f.low for f in found), max(f.high for f in found)
    return replace(found[0], low=low, high=high, rate=min(max(found[0].rate, low), high))


def combine(found: list[RateInterval]) -> RateInterval | None:
    """One interval for several buckets of the same kind: their intersection when they agree,
    else the hull (they disagree: the judgement then is as unsure as the widest spread)."""
    if not found:
        return None
    low, high = max(f.low for f in found), min(f.high for f in found)
    if low > high:
        low, high = min(f.low for f in found), max(f.high for f in found)
    rates = sorted(f.rate for f in found)
    rate = min(max(rates[len(rates) // 2], low), high)
    return RateInterval(
        low,
        high,
        rate,
        sum(f.accepted for f in found),
        sum(f.seconds for f in found),
        sum(f.spans for f in found),
    )
