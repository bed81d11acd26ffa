"""What a bucket enforces, from its acceptances and refusals alone (no header needed).

Rate: under saturation, count the acceptances between two moments where acceptance resumes
after a refusal, as far apart as the run allows.  Those moments sit at the same phase of any
limiter (a token just came back for GCRA; a window just opened for the window algorithms), so the
count over their distance is the enforced rate without the burst, whatever the algorithm.

Burst: the most requests any interval of the run let through beyond rate x its length (a fresh
GCRA bucket: its capacity; a fixed window: up to twice its quota at a boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmload.verdict.streams import Stream

MIN_SPAN = 1.0  # seconds between the first and last resumption for a rate to be measured


@dataclass(frozen=True)
class RateEstimate:
    rate: float  # accepted per second while saturated
    uncertainty: float  # per second
    start: float  # the span measured (UNIX seconds)
    end: float
    accepted: int


def resumptions(s: Stream) -> np.ndarray:
    """Indices of acceptances that follow a refusal and come at least half a token's time after
    the acceptance before them: where a limiter lets requests through again.  (A moving window
    frees its slots one by one as the burst that filled it expires; only the first of those
    starts a new period.)  Left out: those after a pause much longer than the others' (the
    second a probe waits between its burst and its steady load), when tokens piled up: they
    are not at the same phase as the rest."""
    acc = s.accepted
    rows = np.flatnonzero(acc[1:] & s.limited[:-1]) + 1
    accepted = np.flatnonzero(acc)
    if len(rows) < 2 or len(accepted) < 2:
        return rows
    token = max(float(s.t[accepted[-1]] - s.t[accepted[0]]), 1e-9) / len(accepted)  # roughly
    before = accepted[np.searchsorted(accepted, rows) - 1]  # the acceptance before each
    rows = rows[s.t[rows] - s.t[before] >= 0.5 * token]
    if len(rows) < 2:
        return rows
    pause = s.t[rows] - s.t[rows - 1]  # since the refusal before each
    typical = float(np.median(pause))
    return rows[pause <= max(typical + token, 2 * typical)]


def enforced_rate(s: Stream) -> RateEstimate | None:
    """None when the stream was never saturated long enough to tell.

    Every pair of resumptions far enough apart gives a rate (acceptances between them over
    their distance); the rate is the median of those pairs after the first third of the
    saturated span, which leaves out whatever transient the first burst caused (a sliding
    window counter takes a window to settle).  Pairs at the same phase of the limiter are
    exact; a limiter with more than one phase per period (a moving window whose slots free at
    two moments) gives pairs on both sides of the truth, and the median sits on it.  Half the
    spread of the middle half of the pairs is the uncertainty."""
    idx = resumptions(s)
    if len(idx) < 2 or s.t[idx[-1]] - s.t[idx[0]] < MIN_SPAN:
        return None
    t = s.t[idx]
    later = idx[t >= t[0] + (t[-1] - t[0]) / 3]
    if len(later) < 2 or s.t[later[-1]] - s.t[later[0]] < MIN_SPAN:
        later = idx
    picked = later[np.unique(np.linspace(0, len(later) - 1, min(len(later), 60)).astype(int))]
    done = np.concatenate([[0], np.cumsum(s.accepted)])  # acceptances before each row
    i, j = np.triu_indices(len(picked), k=1)
    spans = s.t[picked[j]] - s.t[picked[i]]
    longest = float(spans.max())
    keep = spans >= max(MIN_SPAN / 2, longest / 3)
    counts = done[picked[j]][keep] - done[picked[i]][keep]
    rates = counts / spans[keep]
    q25, rate, q75 = (float(v) for v in np.percentile(rates, [25, 50, 75]))
    uncertainty = max((q75 - q25) / 2, 1.0 / longest)
    first, last = int(picked[0]), int(picked[-1])
    return RateEstimate(rate, uncertainty, float(s.t[first]), float(s.t[last]),
                        int(done[last] - done[first]))  # fmt: skip


def max_excess(t_accepted: np.ndarray, rate: float) -> float:
    """The most acceptances any interval holds beyond ``rate`` x its length (times sorted)."""
    if not len(t_accepted):
        return 0.0
    c = np.arange(len(t_accepted)) - rate * (t_accepted - t_accepted[0])
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


def combine(estimates: list[RateEstimate]) -> tuple[float, float] | None:
    """One rate for several buckets of the same kind: the median, and an uncertainty that
    covers both each estimate's own and their spread."""
    if not estimates:
        return None
    rates = np.array([e.rate for e in estimates])
    own = float(np.median([e.uncertainty for e in estimates]))
    spread = float(np.std(rates)) if len(rates) > 1 else 0.0
    return float(np.median(rates)), max(own, spread)
