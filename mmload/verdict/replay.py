"""Replay a bucket's requests through model limiters: which family explains its decisions, and
how well (the share of outcomes the model predicts).

Each model predicts one request at a time from the actual history (what the server accepted so
far), so one early miss does not shift every later prediction.  The models are the reference
server's (``mmload.limiter``): GCRA with throttled's arithmetic, and the three window
strategies of the ``limits`` library with the same window rules.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mmload.limiter.algorithms import ALGORITHMS
from mmload.limiter.decision import NS
from mmload.limiter.gcra import emission_interval_ns, tolerance_ns
from mmload.verdict.streams import Stream

MAX_REPLAYED = 100_000  # requests per bucket replayed; beyond that the share is a sample's
FAMILIES = ALGORITHMS  # the reference server's algorithms, each replayed by a model of MODELS


@dataclass(frozen=True)
class Params:
    rate: float  # per second
    capacity: int  # GCRA: requests a fresh bucket admits at once
    quota: int  # windows: requests per window
    window: float  # windows: seconds
    phase: float = 0.0  # sliding window: where its windows start, seconds past a multiple


Replay = Callable[[Params, list[float], list[bool]], list[bool]]
"""A family's model: (parameters, send times, refused or not) -> for each request, whether the
model, told every outcome before it, predicted it.  One tight loop per family: the verdict
replays a few hundred thousand requests per run."""


def gcra(p: Params, times: list[float], refused: list[bool]) -> list[bool]:
    """throttled's GCRA.  An outcome the model got wrong tells where the server's next allowed
    time really is (after a refused request, at or before an accepted one): the model moves
    there, so a rate measured a little off does not drift it away over a long run."""
    ei = emission_interval_ns(p.rate)
    dvt = tolerance_ns(p.rate, p.capacity)
    tat = -1  # the theoretical arrival time; -1: a fresh bucket
    hits: list[bool] = []
    hit = hits.append
    for t, was_refused in zip(times, refused, strict=True):
        now = round(t * NS)
        allowed_at = max(now, now if tat < 0 else tat) + ei - dvt
        hit((now < allowed_at) == was_refused)
        if not was_refused:
            if now < allowed_at:  # the server allowed it already: its allowed time was earlier
                tat = now - ei + dvt
            tat = max(now, now if tat < 0 else tat) + ei
        elif now >= allowed_at:  # the server still refused: its allowed time is later
            tat = now + 1 - ei + dvt
    return hits


def fixed_window(p: Params, times: list[float], refused: list[bool]) -> list[bool]:
    """``limits``' fixed window: it opens at the first hit after the last one expired, and every
    hit counts, refused or not.  Where the server's window opened elsewhere (a hit it saw that
    the stream does not hold, a login say), the actual outcome moves the model's window."""
    start, count = -math.inf, 0
    window, quota = p.window, p.quota
    hits: list[bool] = []
    hit = hits.append
    for t, was_refused in zip(times, refused, strict=True):
        if t >= start + window:
            start, count = t, 0
        count += 1
        hit((count > quota) == was_refused)
        if not was_refused and count > quota:  # the server had opened a new window
            start, count = t, 1
        elif was_refused and count <= quota:  # its window was fuller than ours
            count = quota + 1
    return hits


def moving_window(p: Params, times: list[float], refused: list[bool]) -> list[bool]:
    """A log of acceptances: refused when ``quota`` fell in the last ``window`` seconds.  When
    the server refuses what the log would admit, it holds entries the stream never showed (a
    login, say): the log is filled up; when it admits what the log would refuse, the oldest
    entries had gone already."""
    log: deque[float] = deque()
    window, quota = p.window, p.quota
    hits: list[bool] = []
    hit = hits.append
    for t, was_refused in zip(times, refused, strict=True):
        edge = t - window
        while log and log[0] <= edge:
            log.popleft()
        hit((len(log) >= quota) == was_refused)
        if not was_refused:
            while len(log) >= quota:
                log.popleft()
            log.append(t)
        else:
            log.extend([t] * (quota - len(log)))
    return hits


def sliding_window(p: Params, times: list[float], refused: list[bool]) -> list[bool]:
    """``limits``' sliding window counter: the previous window's count, weighted by how much of
    it still overlaps, plus the current window's; windows start at ``phase`` past multiples of
    their length.  A wrong prediction sets the current window's count to what the server's must
    have been."""
    counts: dict[int, float] = {}
    window, quota, phase = p.window, p.quota, p.phase
    hits: list[bool] = []
    hit = hits.append
    for t, was_refused in zip(times, refused, strict=True):
        k = math.floor((t - phase) / window)
        previous = counts.get(k - 1, 0) * (1.0 - (t - phase - k * window) / window)
        current = counts.get(k, 0)
        full = math.floor(previous + current) + 1 > quota
        hit(full == was_refused)
        if not was_refused and full:  # the server's count was lower
            current = max(0.0, quota - 1 - previous)
        elif was_refused and not full:  # the server's count was higher
            current = max(current, math.ceil(quota - previous))
        counts[k] = current + (not was_refused)
        counts.pop(k - 2, None)
    return hits


MODELS: dict[str, Replay] = {  # by the names of mmload.limiter.algorithms
    "gcra": gcra,
    "fixed-window": fixed_window,
    "moving-window": moving_window,
    "sliding-window": sliding_window,
}


def agreement(family: str, params: Params, s: Stream) -> tuple[float, float, float]:
    """(the share of the stream's outcomes the model predicts one step ahead, the mean of the
    shares of acceptances and of refusals it predicts, that mean's standard error).  Under a
    hammer nearly everything is refused, so any model that refuses a lot scores high on the
    first; the second tells the families apart, within its error: a few hundred acceptances
    predicted half the time cannot tell two families 0.02 apart."""
    n = min(len(s), MAX_REPLAYED)
    if not n:
        return 1.0, 1.0, 0.0
    limited = s.limited[:n]
    hits = np.array(MODELS[family](params, s.t[:n].tolist(), limited.tolist()), dtype=bool)
    masks = [mask for mask in (limited, ~limited) if mask.any()]
    recalls = [float(hits[mask].mean()) for mask in masks]
    variance = sum(r * (1 - r) / int(m.sum()) for r, m in zip(recalls, masks, strict=True))
    return float(hits.mean()), float(np.mean(recalls)), math.sqrt(variance) / len(recalls)


TIE = 0.002  # shares closer than this cannot tell two families apart
NOISE = 2.0  # ... nor scores closer than this many standard errors of their difference


SEARCHED = 60_000  # requests a family's parameter search replays in all (on the busiest bucket)
MIN_SAMPLE = 2_000  # ... but each candidate at least this many


MAX_PHASES = 40  # where a sliding window may start: at most this many places of its length


def windows_to_try(
    params: Params,
    known: bool,
    family: str = "",
    s: Stream | None = None,
) -> list[Params]:
    """The window lengths to try: the one given when the headers said the quota, else a few
    whole seconds around quota / rate, each with the quota that rate gives it; for a sliding
    window, each at the first phase the stream ``s`` allows (the others are tried for the length
    chosen: :func:`fit`)."""
    lengths = (
        [params]
        if known
        else [
            replace(params, window=float(w), quota=max(1, round(params.rate * w)))
            for w in range(max(1, round(params.window) - 2), round(params.window) + 4)
        ]
    )
    if family != "sliding-window" or s is None:
        return lengths
    return [sliding_phases(length, s)[0] for length in lengths]  # the phases: once one is chosen


def sliding_phases(p: Params, s: Stream) -> list[Params]:
    """Where a sliding window counter's windows may start.  Saturated, it admits one request
    each window / quota seconds, as the previous window's weight falls by one: its acceptances
    share one phase of that spacing (their circular mean, each taken halfway from the request
    sent before it), and its windows start at one of the quota multiples of the spacing from
    there (at most ``MAX_PHASES`` of them, evenly apart)."""
    rows = np.flatnonzero(s.accepted[1:]) + 1
    if not len(rows):
        return [p]
    spacing = p.window / p.quota
    at = (s.t[rows] + s.t[rows - 1]) / 2
    angle = np.angle(np.mean(np.exp(2j * np.pi * (at % spacing) / spacing))) % (2 * np.pi)
    base = float(angle) / (2 * np.pi) * spacing
    step = math.ceil(p.quota / MAX_PHASES)
    return [
        replace(p, phase=(base + j * step * spacing) % p.window)
        for j in range(math.ceil(p.quota / step))
    ]


def refined(family: str, fitted: Params, sample: Stream) -> Params:
    """A sliding window's phase, refined to within a fraction of the time between sends: the
    circular mean above is only as sharp as the sends around each acceptance."""
    if family != "sliding-window" or len(sample) < 2:
        return fitted
    gap = float(np.median(np.diff(sample.t)))
    tried = [
        replace(fitted, phase=(fitted.phase + gap * k / 4) % fitted.window) for k in range(-8, 9)
    ]
    return max(tried, key=lambda p: agreement(family, p, sample)[0])


def rates_to_try(params: Params, uncertainty: float) -> list[Params]:
    """GCRA's parameters to try: a few rates within the measured rate's uncertainty (the
    nearest whole rate among them, as servers are configured), capacities one either side.
    A rate 0.3% off lets a model drift over the close calls of a probe."""
    step = max(uncertainty / 2, params.rate * 0.001)
    rates = {params.rate + k * step for k in range(-4, 5)}
    if abs(round(params.rate) - params.rate) <= 2 * uncertainty and round(params.rate) > 0:
        rates.add(float(round(params.rate)))
    return [
        replace(params, rate=r, capacity=c)
        for r in sorted(rates)
        if r > 0
        for c in range(max(1, params.capacity - 1), params.capacity + 2)
    ]


def best(
    params: Params, streams: list[Stream], quota_known: bool = True, uncertainty: float = 0.0
) -> tuple[str, float]:
    """(the family that best predicts both acceptances and refusals, the share of outcomes it
    predicts), over the busiest buckets (see :func:`contenders`)."""
    family, share, _ = contenders(params, streams, quota_known, uncertainty)
    return family, share


def fit(family: str, tried: list[Params], s: Stream) -> Params:
    """The parameters of ``tried`` that predict most of a sample of ``s``; for a sliding
    window, then each phase the stream allows at that length, refined."""

    def best_of(candidates: list[Params]) -> Params:
        if len(candidates) == 1:
            return candidates[0]
        sample = s.take(slice(0, max(MIN_SAMPLE, SEARCHED // len(candidates))))
        return max(candidates, key=lambda p: agreement(family, p, sample)[0])

    fitted = best_of(tried)
    if family != "sliding-window":
        return fitted
    fitted = best_of(sliding_phases(fitted, s))
    return refined(family, fitted, s.take(slice(0, MIN_SAMPLE * 2)))


def contenders(
    params: Params, streams: list[Stream], quota_known: bool = True, uncertainty: float = 0.0
) -> tuple[str, float, tuple[str, ...]]:
    """(the family that best predicts both acceptances and refusals, the share of outcomes it
    predicts, every family that predicts them as well to within ``TIE``: the decisions cannot
    tell those apart, so a reading must hold under each), over the busiest buckets.  Without
    an advertised quota, each window family gets the window length that suits it best on a
    sample first.

    Under a hammer, a fixed window and a moving one admit the very same requests (each window's
    quota at its start), so when they tie the family is just "window".  Each family's
    parameters are fitted on a sample first, within what was measured."""
    chosen = streams[:2]
    weights = [min(len(s), MAX_REPLAYED) for s in chosen]
    scores, shares, errors = {}, {}, {}
    for family in FAMILIES:
        tried = (
            rates_to_try(params, uncertainty)
            if family == "gcra"
            else windows_to_try(params, quota_known, family, chosen[0])
        )
        fitted = fit(family, tried, chosen[0])
        results = [agreement(family, fitted, s) for s in chosen]
        shares[family] = float(np.average([r[0] for r in results], weights=weights))
        scores[family] = float(np.average([r[1] for r in results], weights=weights))
        errors[family] = float(np.average([r[2] for r in results], weights=weights))
    ranked = sorted(FAMILIES, key=lambda f: (scores[f], f == "gcra"), reverse=True)
    top, second = ranked[0], ranked[1]

    def ties(f: str) -> bool:  # closer than TIE, or than twice their scores' sampling error
        noise = NOISE * math.hypot(errors[top], errors[f])
        return scores[top] - scores[f] < max(TIE, noise)

    tied = tuple(f for f in ranked if ties(f))
    if {top, second} == {"fixed-window", "moving-window"} and scores[top] - scores[second] < TIE:
        return "window", shares[top], tied
    return top, shares[top], tied
