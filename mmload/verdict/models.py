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
from dataclasses import dataclass

import numpy as np

from mmload.limiter.decision import NS
from mmload.limiter.gcra import emission_interval_ns
from mmload.verdict.streams import Stream

MAX_REPLAYED = 200_000  # requests per bucket replayed; beyond that the share is a sample's
FAMILIES = ("gcra", "fixed-window", "moving-window", "sliding-window")


@dataclass(frozen=True)
class Params:
    rate: float  # per second
    capacity: int  # GCRA: requests a fresh bucket admits at once
    quota: int  # windows: requests per window
    window: float  # windows: seconds


Predictor = Callable[[float], bool]  # send time -> predicted limited; told the truth after


def gcra(p: Params, sync: bool = True) -> tuple[Predictor, Callable[[float, bool], None]]:
    """throttled's GCRA.  An outcome the model got wrong tells where the server's next allowed
    time really is (after a refused request, at or before an accepted one): with ``sync`` the
    model moves there, so a rate measured a little off does not drift it away over a long run.
    Without, it is a bucket of its own fed the server's acceptances."""
    ei = emission_interval_ns(p.rate)
    dvt = ei * p.capacity
    state = {"tat": -1}

    def allowed_at(now: int) -> int:
        tat = now if state["tat"] < 0 else state["tat"]
        return max(now, tat) + ei - dvt

    def predict(t: float) -> bool:
        now = round(t * NS)
        return now < allowed_at(now)

    def learn(t: float, accepted: bool) -> None:
        now = round(t * NS)
        at = allowed_at(now)
        if accepted:
            if sync and now < at:  # the server allowed it already: its allowed time was earlier
                state["tat"] = now - ei + dvt
            tat = now if state["tat"] < 0 else state["tat"]
            state["tat"] = max(now, tat) + ei
        elif sync and now >= at:  # the server still refused: its allowed time is later
            state["tat"] = now + 1 - ei + dvt

    return predict, learn


def fixed_window(p: Params) -> tuple[Predictor, Callable[[float, bool], None]]:
    """``limits``' fixed window: it opens at the first hit after the last one expired, and every
    hit counts, refused or not.  Where the server's window opened elsewhere (a hit it saw that
    the stream does not hold, a login say), the actual outcome moves the model's window."""
    state = {"start": -math.inf, "hits": 0}

    def predict(t: float) -> bool:
        if t >= state["start"] + p.window:
            state["start"], state["hits"] = t, 0
        state["hits"] += 1
        return state["hits"] > p.quota

    def learn(t: float, accepted: bool) -> None:
        if accepted and state["hits"] > p.quota:  # the server had opened a new window
            state["start"], state["hits"] = t, 1
        elif not accepted and state["hits"] <= p.quota:  # its window was fuller than ours
            state["hits"] = p.quota + 1

    return predict, learn


def moving_window(p: Params) -> tuple[Predictor, Callable[[float, bool], None]]:
    """A log of acceptances: refused when ``quota`` fell in the last ``window`` seconds."""
    log: deque[float] = deque()

    def predict(t: float) -> bool:
        while log and log[0] <= t - p.window:
            log.popleft()
        return len(log) >= p.quota

    def learn(t: float, accepted: bool) -> None:
        if accepted:
            log.append(t)

    return predict, learn


def sliding_window(p: Params) -> tuple[Predictor, Callable[[float, bool], None]]:
    """``limits``' sliding window counter: the previous window's count, weighted by how much of
    it still overlaps, plus the current window's; windows aligned to multiples of their length.
    A wrong prediction sets the current window's count to what the server's must have been."""
    counts: dict[int, float] = {}

    def parts(t: float) -> tuple[int, float]:
        k = math.floor(t / p.window)
        weight = 1.0 - (t - k * p.window) / p.window
        return k, counts.get(k - 1, 0) * weight

    def predict(t: float) -> bool:
        k, previous = parts(t)
        return math.floor(previous + counts.get(k, 0)) + 1 > p.quota

    def learn(t: float, accepted: bool) -> None:
        k, previous = parts(t)
        current = counts.get(k, 0)
        full = math.floor(previous + current) + 1 > p.quota
        if accepted and full:  # the server's count was lower
            current = max(0.0, p.quota - 1 - previous)
        elif not accepted and not full:  # the server's count was higher
            current = max(current, math.ceil(p.quota - previous))
        counts[k] = current + accepted
        counts.pop(k - 2, None)

    return predict, learn


MODELS = {"gcra": gcra, "fixed-window": fixed_window, "moving-window": moving_window,
          "sliding-window": sliding_window}  # fmt: skip


def agreement(family: str, params: Params, s: Stream) -> float:
    """The share of the stream's outcomes the model predicts, one step ahead."""
    predict, learn = MODELS[family](params)
    n = min(len(s), MAX_REPLAYED)
    times = s.t[:n].tolist()
    limited = s.limited[:n].tolist()
    right = 0
    for t, was_limited in zip(times, limited, strict=True):
        right += predict(t) == was_limited
        learn(t, not was_limited)
    return right / n if n else 1.0


TIE = 0.002  # shares closer than this cannot tell two families apart


def best(params: Params, streams: list[Stream]) -> tuple[str, float]:
    """(the family that predicts the most outcomes, its share), over the busiest buckets.

    Under a hammer, a fixed window and a moving one admit the very same requests (each window's
    quota at its start), so when they tie the family is just "window"."""
    chosen = streams[:3]
    scores = {}
    for family in FAMILIES:
        shares = [agreement(family, params, s) for s in chosen]
        weights = [min(len(s), MAX_REPLAYED) for s in chosen]
        scores[family] = float(np.average(shares, weights=weights)) if chosen else 1.0
    ranked = sorted(FAMILIES, key=lambda f: (scores[f], f == "gcra"), reverse=True)
    top, second = ranked[0], ranked[1]
    if {top, second} == {"fixed-window", "moving-window"} and scores[top] - scores[second] < TIE:
        return "window", scores[top]
    return top, scores[top]
