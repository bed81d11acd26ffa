"""Everything the verdict measures about a run: its buckets (split once, by the scope found),
each bucket's rate with its interval, the capacity, the family of limiter, what the headers say.

The rate is measured twice: first as a token bucket would have it, to fit the models
(:mod:`mmload.verdict.replay`), then by the family they found, whose phase rules the interval
needs (:mod:`mmload.verdict.rates`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mmload.dialects.epoch import EPOCH_ABOVE  # without a Date, a Reset above it is a UNIX time
from mmload.limiter.gcra import tolerance_s
from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.verdict import rates, replay, scope
from mmload.verdict.rates import RateInterval
from mmload.verdict.schema import Measured as MeasuredPart
from mmload.verdict.schema import Policy
from mmload.verdict.streams import REFUSED, Stream, split

# what a window model takes from the headers: beyond these, the headers are no limit to replay
MAX_QUOTA = 1_000_000  # requests per window
MIN_WINDOW, MAX_WINDOW = 0.001, 86_400.0 * 366  # seconds
MEASURED_STREAMS = 20  # the busiest buckets whose rate is measured
CAPACITY_STREAMS = 5  # ... and whose capacity
IDENTIFIED = 0.95  # a family predicting fewer outcomes than this does not explain the server
WINDOWS = ("fixed-window", "moving-window", "sliding-window", "window")


@dataclass(frozen=True)
class Capacity:
    """What a bucket let through at once beyond the rate: ``point`` as sent; ``low``, which
    it surely holds; ``high``, the most the observation allows; ``full_high``, the same from
    moments the bucket was shown full (None: never shown full)."""

    point: float
    low: float
    high: float
    full_high: float | None


@dataclass(frozen=True)
class Found:
    """What a run's first stretch found out about the server, which later stretches of a long
    run are read by: how its requests split into buckets, and the family that explains them
    (with those it cannot be told from)."""

    scope: scope.Scope
    algorithm: str
    agreement: float | None
    tied: tuple[str, ...]


@dataclass
class Measured:
    streams: list[Stream]  # one per bucket, busiest first
    scope: scope.Scope
    interval: RateInterval | None
    capacity_bounds: Capacity | None
    fresh_burst: int | None  # what the busiest bucket let through before its first refusal
    buckets_per_key: int
    algorithm: str
    model_agreement: float | None
    params: replay.Params | None
    offered_rate: float  # per bucket, the busiest's
    dialect: str  # the headers the accepted responses carried ("" none)
    limit: float | None  # the most common advertised Limit (or IETF q)
    window: float | None  # seconds, when the dialect says
    reset_semantics: str  # delta, epoch, or "" without Reset
    policies: tuple[Policy, ...] = ()
    routes: dict[str, RateInterval | None] = field(default_factory=dict)  # documented routes'
    tied: tuple[str, ...] = ()  # the families that explain the decisions as well as algorithm

    @property
    def found(self) -> Found:
        return Found(self.scope, self.algorithm, self.model_agreement, self.tied)

    @property
    def general(self) -> list[Stream]:
        """The streams of the general limit: all but the documented routes' buckets."""
        return [s for s in self.streams if not s.route]

    @property
    def rate(self) -> float | None:
        return None if self.interval is None else self.interval.rate

    @property
    def rate_uncertainty(self) -> float | None:
        i = self.interval
        return None if i is None else (min(i.high, 10 * i.rate) - i.low) / 2

    @property
    def capacity(self) -> float | None:
        return None if self.capacity_bounds is None else self.capacity_bounds.point

    @property
    def burst(self) -> int | None:
        """Measured MaxBurst: the capacity less the one request a bucket always admits."""
        return None if self.capacity is None else max(0, round(self.capacity) - 1)

    def part(self) -> MeasuredPart:
        """What verdict.json says of it."""
        i, c = self.interval, self.capacity_bounds
        return MeasuredPart(
            rate_per_s=_round(self.rate),
            rate_low=_bound(i.low if i else None, math.floor),
            rate_high=_bound(i.high if i and np.isfinite(i.high) else None, math.ceil),
            rate_uncertainty=_round(self.rate_uncertainty),
            saturated_seconds=round(i.seconds, 3) if i else 0.0,
            burst=self.burst,
            burst_low=None if c is None else max(0, int(np.floor(c.low)) - 1),
            burst_high=None if c is None else max(0, int(np.ceil(c.high)) - 1),
            bucket_full=None if c is None else c.full_high is not None,
            scope=self.scope.scope,
            scope_evidence=self.scope.evidence,
            scope_alike=self.scope.also,
            per_route="endpoint" in self.scope.grouping,
            buckets=len(self.streams),
            buckets_per_key=self.buckets_per_key,
            algorithm=self.algorithm,
            model_agreement=_round(self.model_agreement, 4),
            reset_semantics=self.reset_semantics or "none",
            offered_rate_per_s=_round(self.offered_rate) or 0.0,
            fresh_burst=self.fresh_burst,
        )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _bound(value: float | None, way: Callable[[float], int], digits: int = 5) -> float | None:
    """An interval's end to ``digits`` significant digits, rounded outwards (``way``): a slow
    limit's bounds (1/min is 0.0167/s) keep their precision, and the interval still holds."""
    if value is None or value <= 0:
        return None if value is None else 0.0
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    return way(value * scale) / scale


def _most_common_text(block: Block, column: str) -> str:
    if not len(block):
        return ""
    counts = np.bincount(block.codes[column])
    return str(block.tables[column][int(np.argmax(counts))])


def _mode(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    found, counts = np.unique(values, return_counts=True)
    return float(found[np.argmax(counts)])


def measure_run(
    decided: Block, documented: Documented, expected_scope: str, like: Found | None = None
) -> Measured:
    """``like``: what an earlier stretch of the run found (its buckets and family), taken as
    found instead of found again."""
    inferred = like.scope if like else scope.infer(decided, documented.per_sec, expected_scope)
    streams = _split(decided, inferred.grouping, documented)
    _name_routes(streams, decided.tables["endpoint"], documented)
    routes = {
        r.endpoint: rates.combine(
            [
                i
                for s in streams[:MEASURED_STREAMS]
                if s.route == r.endpoint and (i := rates.first_rate(s))
            ]
        )
        for r in documented.routes
    }
    streams = [s for s in streams if not s.route] + [s for s in streams if s.route]
    general = [s for s in streams if not s.route] or streams
    measured = general[:MEASURED_STREAMS]
    buckets = scope.buckets_per_key(general)
    first = rates.combine([i for s in measured if (i := rates.first_rate(s, buckets))])
    accepted = decided.take(decided.numbers[REFUSED] == 0)
    limit, window = _mode(accepted.numbers["limit"]), _mode(accepted.numbers["window"])
    capacity = _capacity(general, first, documented) if first else None
    params = (
        _params(first.rate, capacity.point, limit, window, general)
        if first and capacity and buckets == 1
        else None
    )
    if like is not None:
        algorithm, agreement, tied = like.algorithm, like.agreement, like.tied
    elif params and first:
        uncertainty = (first.high - first.low) / 2
        algorithm, agreement, tied = replay.contenders(
            params, general, limit is not None, uncertainty
        )
    else:
        algorithm, agreement, tied = "unknown", None, ()
    bucket = rates.combine([i for s in measured if (i := rates.quick_rate(s, buckets))])
    interval = bucket
    if first is not None and (agreement or 0.0) < IDENTIFIED:
        # no family explains the decisions well: the rate is what a bucket or a window allows
        windowed = _reading(measured, "window", first, bucket)
        interval = rates.hull([i for i in (bucket, windowed) if i is not None])
        algorithm = "unknown"
    elif first is not None and (algorithm in WINDOWS or len(tied) > 1):
        # the family's reading; where others explain the decisions as well, what any allows
        interval = _reading(measured, algorithm, first, bucket)
        others = [_reading(measured, f, first, bucket) for f in tied if f != algorithm]
        if interval is not None:
            interval = rates.hull([interval, *(i for i in others if i is not None)])
        if algorithm in WINDOWS:
            capacity = _capacity(general, interval, documented) if interval else None
    return Measured(
        streams,
        inferred,
        interval,
        capacity,
        rates.fresh_burst(general[0]) if general else None,
        buckets,
        algorithm,
        agreement,
        params,
        rates.offered_rate(general[0]) if general else 0.0,
        _most_common_text(accepted, "dialect"),
        limit,
        window,
        _reset_semantics(decided),
        routes=routes,
        tied=tied,
    )


def _split(decided: Block, grouping: str, documented: Documented) -> list[Stream]:
    """The run's streams by the grouping found; a documented route's requests apart, a bucket
    of their own per route (the rest share the general one)."""
    routed = {r.endpoint for r in documented.routes}
    if not routed or "endpoint" in grouping:
        return split(decided, grouping)
    codes = [i for i, name in enumerate(decided.tables["endpoint"]) if name in routed]
    on_route = np.isin(decided.codes["endpoint"], codes)
    apart = "endpoint" if grouping == "all" else f"{grouping}+endpoint"
    streams = split(decided.take(~on_route), grouping) + split(decided.take(on_route), apart)
    return sorted(streams, key=len, reverse=True)


def _name_routes(streams: list[Stream], endpoints: list[str], documented: Documented) -> None:
    """Mark each stream of a documented route's requests with that route."""
    routes = {r.endpoint for r in documented.routes}
    for s in streams:
        first = endpoints[int(s.endpoint[0])] if len(s) else ""
        if first in routes and bool(np.all(s.endpoint == s.endpoint[0])):
            s.route = first


def _reading(
    streams: list[Stream], family: str, first: RateInterval, bucket: RateInterval | None
) -> RateInterval | None:
    """The rate over ``streams`` by the rules of ``family``: a bucket's (``bucket``, measured
    already) for GCRA, else each stream's window reading, combined."""
    if family == "gcra":
        return bucket
    return rates.combine([i for s in streams if (i := _family_rate(s, family, first))])


def _family_rate(s: Stream, algorithm: str, first: RateInterval) -> RateInterval | None:
    """The interval by the rules of the family found: a sliding window counter keeps its phase
    on the clock's grid; other windows (and a family not known) shift with a late opener.
    Either needs the limiter saturated: no pause of a token's time between requests."""
    r = rates.resumptions(s)
    idle = 1.0 / first.high if np.isfinite(first.high) else np.inf
    sliding = algorithm == "sliding-window"
    drift = np.zeros(len(s)) if sliding else rates.window_drift(s, r)
    return rates.interval(s, r, drift, idle, phased=not sliding)


def _capacity(streams: list[Stream], rate: RateInterval, documented: Documented) -> Capacity:
    """Over the busiest buckets that refused something (the median of each bound)."""
    busiest = [s for s in streams if s.limited.any()][:CAPACITY_STREAMS] or streams[:1]
    points, lows, highs, fulls = [], [], [], []
    for s in busiest:
        points.append(rates.max_excess(s.t[s.accepted], rate.rate))
        high = rate.high if np.isfinite(rate.high) else 10 * rate.rate
        lows.append(rates.capacity_low(s, high))
        highs.append(rates.capacity_high(s, rate.low))
        starts = full_rows(s, documented, rate.low)
        if len(starts):
            fulls.append(rates.capacity_high(s, rate.low, starts))
    return Capacity(
        float(np.median(points)),
        float(np.median(lows)),
        float(np.median(highs)),
        float(np.median(fulls)) if fulls else None,
    )


def full_rows(s: Stream, documented: Documented, rate_low: float) -> np.ndarray:
    """Acceptances that found their bucket full: Remaining at the top (Limit - 1, or the most it
    ever said); without headers, after a pause long enough to refill the documented bucket at
    the lowest rate measured.  The stream's first request: only if its headers say so."""
    accepted = s.accepted
    known = accepted & np.isfinite(s.remaining)
    if known.any():
        limits = s.limit[known]
        top = (
            float(np.nanmax(limits)) - 1
            if np.isfinite(limits).any()
            else float(np.max(s.remaining[known]))
        )
        return np.flatnonzero(known & (s.remaining >= top - 1e-9))
    capacity = documented.capacity
    if capacity is None or rate_low <= 0 or len(s) < 2:
        return np.empty(0, dtype=np.int64)
    pause = s.t[1:] - s.answered[:-1]
    return np.flatnonzero(accepted[1:] & (pause >= tolerance_s(rate_low, capacity))) + 1


def _params(
    rate: float,
    capacity: float,
    limit: float | None,
    window: float | None,
    streams: list[Stream],
) -> replay.Params | None:
    """The models' parameters: GCRA's from what was measured; a window's quota from the
    advertised limit (or the first burst) and its length from quota / rate, in whole seconds
    as ``limits`` keeps them (its windows are aligned to multiples of their length)."""
    if rate <= 0:
        return None
    quota = limit if limit and limit >= 1 else rates.fresh_burst(streams[0]) or capacity
    quota = min(quota, MAX_QUOTA)  # a header may say anything; a model holds that many
    shown = window if window and MIN_WINDOW <= window <= MAX_WINDOW else None
    length = shown or min(max(1, round(quota / rate)), MAX_WINDOW)  # windows are whole seconds
    return replay.Params(rate, max(1, round(capacity)), max(1, round(quota)), length)


def _reset_semantics(decided: Block) -> str:
    """delta or epoch, as most responses say.  An epoch lies near the response's Date, a delta
    near zero: whichever a Reset is closer to (a server whose clock is wrong still sends an
    epoch near its own Date); without a Date, a Reset above 10^9 is an epoch."""
    reset, date = decided.numbers["reset"], decided.numbers["date"]
    known = np.isfinite(reset)
    if not known.any():
        return ""
    reset, date = reset[known], date[known]
    epoch = np.where(np.isfinite(date), np.abs(reset - date) < np.abs(reset), reset > EPOCH_ABOVE)
    return "epoch" if float(epoch.mean()) > 0.5 else "delta"
