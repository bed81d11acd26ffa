"""What a report shows, read from a run folder alone: the run's settings, its verdict, its
timeline as numpy columns, and per-key header series from its records.

Everything here reads files written by :mod:`mmload.results`, and the verdict through
:mod:`mmload.verdict.schema` (its typed :class:`Verdict`); nothing needs the process that ran
the load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmload.dialects.epoch import EPOCH_ABOVE  # a Reset above it is an epoch, not a delta
from mmload.limiter.rate import Documented
from mmload.results.folder import check_run_folder, read_run_or_empty
from mmload.results.records_file import load_records
from mmload.results.tally import outcome_codes
from mmload.results.timeline import COLUMNS
from mmload.results.timeline_file import TIMELINE_CSV, read_timeline
from mmload.verdict import documented_of, schema, verify
from mmload.verdict.schema import Measured, Verdict

SHORTEST = 0.25  # s: a last second cut shorter than this holds too few requests to be a rate
WHOLE = 0.95  # s: a second cut no shorter than this is drawn whole
MARKS = 120  # Retry-After markers at most per key (one each 7 px of a report's figure)
COUNTS = ("offered", "accepted", "limited", "errors")  # the timeline's columns that are counts


@dataclass
class RunView:
    folder: Path
    run: dict[str, Any]
    verdict: Verdict | None
    verdict_saved: bool  # False: computed for this report, not in the folder
    start: float  # epoch second the run's time axis starts at
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # timeline, NaN for None
    last_sent: float | None = None  # UNIX time of the last request: :func:`record_stats` sets it

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def t(self) -> np.ndarray:
        """Seconds from the run's start, one per timeline row."""
        return self.columns["second"] - self.start

    @property
    def documented(self) -> Documented:
        """What the verdict held the server to; without one, what the run was told."""
        return self.verdict.documented if self.verdict else documented_of(self.run, None, None)

    @property
    def documented_rate(self) -> float | None:
        return self.documented.per_sec or None

    @property
    def measured(self) -> Measured:
        return self.verdict.measured if self.verdict else Measured()

    @property
    def outcome(self) -> str | None:
        """pass, fail or inconclusive; None without a verdict."""
        return None if self.verdict is None else self.verdict.outcome

    @property
    def passed(self) -> bool | None:
        return None if self.verdict is None else self.verdict.passed

    @property
    def limited_status(self) -> tuple[int, ...]:
        """The statuses the verdict counted as refusals (the timeline's "limited")."""
        return self.verdict.limited_status if self.verdict else (429,)

    def total(self, column: str) -> float:
        return float(np.nansum(self.columns[column])) if len(self.columns[column]) else 0.0

    @property
    def load_t(self) -> float:
        """Seconds from the run's start to its load phase (before it: the logins)."""
        started = self.run.get("load_started")
        return max(float(started) - self.start, 0.0) if isinstance(started, (int, float)) else 0.0


def load(folder: Path) -> RunView:
    """The run in ``folder``, with its verdict if it has one (see :func:`ensure_verdict`)."""
    check_run_folder(folder, TIMELINE_CSV)
    run = read_run_or_empty(folder)
    saved = schema.read(folder)
    rows = read_timeline(folder)
    columns = {
        c: np.array([np.nan if r.get(c) is None else r[c] for r in rows], dtype=np.float64)
        for c in COLUMNS
    }
    first = float(columns["second"][0]) if rows else 0.0
    return RunView(folder, run, saved, saved is not None, first, columns)


def ensure_verdict(view: RunView) -> RunView:
    """The view, with a verdict computed from its records when its folder has none (a killed
    run): shown, never saved."""
    if view.verdict is None:
        found = verify(view.folder)
        view.verdict = found if found.requests else None
    return view


def rate_interval(m: Measured) -> tuple[float, float] | None:
    """Where the enforced rate surely lies (its high end infinite when nothing bounds it from
    above); rate ± uncertainty for a verdict written before it said; None: no rate measured."""
    if m.rate_per_s is None:
        return None
    if m.rate_low is not None:
        return m.rate_low, math.inf if m.rate_high is None else m.rate_high
    err = m.rate_uncertainty or 0.0
    return m.rate_per_s - err, m.rate_per_s + err


def rates(view: RunView) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The timeline for step plots drawn ``where="post"``: when each second starts, with one
    more point where the last one ends, and its counts as rates.  Seconds the load's start or
    the run's end cut short are as wide as they really were, their counts divided by that:
    the first second of the load when every request before it was a login, the last one when
    the records said when the last request was sent (left out when shorter than
    :data:`SHORTEST`)."""
    t, columns = view.t, view.columns
    if not len(t):
        return t, columns
    length = np.ones(len(t))
    if view.last_sent is not None:
        length[-1] = min(max(view.last_sent - float(columns["second"][-1]), 0.0), 1.0)
    if length[-1] < SHORTEST and len(t) > 1:
        t, columns, length = t[:-1], {k: v[:-1] for k, v in columns.items()}, length[:-1]
    length[length > WHOLE] = 1.0
    start = t.copy()
    first = np.flatnonzero((t + 1 - WHOLE < view.load_t) & (view.load_t < t + 1 - SHORTEST))
    logins = (view.run.get("logins") or {}).get("attempted")
    if len(first) and logins == np.nansum(columns["offered"][t < t[first[0]]]):
        start[first[0]], length[first[0]] = view.load_t, t[first[0]] + 1 - view.load_t
    out = {k: np.append(v, v[-1]) for k, v in columns.items()}
    for k in COUNTS:
        out[k] = out[k] / np.append(length, length[-1])
    return np.append(start, start[-1] + length[-1]), out


@dataclass
class KeySeries:
    """One rate-limit key's headers over time, reduced to at most ``bins`` points."""

    key: str
    requests: int
    t: np.ndarray
    remaining_min: np.ndarray
    remaining_max: np.ndarray
    limit: np.ndarray
    reset: np.ndarray  # seconds until reset (an epoch is shown relative to the response)
    reset_is_epoch: bool
    retry_t: np.ndarray  # when a Retry-After was sent, and its value
    retry_after: np.ndarray


@dataclass
class RecordStats:
    keys: list[KeySeries]
    latency_p95: dict[str, float | None]  # accepted / limited, over the whole run


def record_stats(view: RunView, keys: int = 3, bins: int = 1500) -> RecordStats:
    """The busiest ``keys`` keys' headers, and whole-run latency quantiles, from the records;
    it notes on the view when the last request was sent (see :func:`rates`)."""
    block = load_records(view.folder)
    n = len(block)
    if n:
        view.last_sent = float(np.nanmax(block.numbers["sent"]))
    status = block.numbers["status"]
    outcome = outcome_codes(status)
    latency = block.numbers["latency_ms"]
    p95: dict[str, float | None] = {}
    for name, code in (("accepted", 0), ("limited", 1)):
        chosen = latency[outcome == code]
        p95[name] = float(np.percentile(chosen, 95)) if len(chosen) else None
    if not n:
        return RecordStats([], p95)
    codes = block.codes["key"]
    counts = np.bincount(codes.astype(np.int64))
    busiest = [int(c) for c in np.argsort(-counts, kind="stable")[:keys] if counts[c]]
    series = [
        _key_series(block.tables["key"][c], block, codes == c, view.start, bins) for c in busiest
    ]
    return RecordStats(series, p95)


def _key_series(key: str, block: Any, mask: np.ndarray, start: float, bins: int) -> KeySeries:
    num = {k: v[mask] for k, v in block.numbers.items()}
    t = num["sent"] - start
    reset = num["reset"]
    epoch = bool(np.nanmax(reset, initial=0.0) > EPOCH_ABOVE)
    if epoch:  # shown as seconds from the response's Date (or its send time)
        base = np.where(np.isnan(num["date"]), num["sent"], num["date"])
        reset = reset - base
    edges = np.linspace(t.min(), t.max() + 1e-9, bins + 1) if len(t) else np.zeros(1)
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    retry = ~np.isnan(num["retry_after"])
    retry_t, retry_after = _marks(t[retry], num["retry_after"][retry], edges)
    return KeySeries(
        key=key,
        requests=int(mask.sum()),
        t=centres,
        remaining_min=held(_binned(np.fmin, which, num["remaining"], bins, np.inf)),
        remaining_max=held(_binned(np.fmax, which, num["remaining"], bins, -np.inf)),
        limit=held(_binned(np.fmax, which, num["limit"], bins, -np.inf)),
        reset=held(_binned(np.fmax, which, reset, bins, -np.inf)),
        reset_is_epoch=epoch,
        retry_t=retry_t,
        retry_after=retry_after,
    )


def _marks(t: np.ndarray, values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where Retry-After was sent and its largest value, in at most :data:`MARKS` bins: markers
    a few pixels apart, which a reader tells from the lines, where finer ones merge into one."""
    bins = min(MARKS, len(edges) - 1)
    coarse = np.linspace(edges[0], edges[-1], bins + 1)
    which = np.clip(np.searchsorted(coarse, t, side="right") - 1, 0, bins - 1)
    found = np.unique(which)
    centres = (coarse[:-1] + coarse[1:]) / 2
    return centres[found], _binned(np.fmax, which, values, bins, -np.inf)[found]


def _binned(
    reduce: np.ufunc, which: np.ndarray, values: np.ndarray, bins: int, empty: float
) -> np.ndarray:
    """Per bin, ``reduce`` of the values that are not NaN; NaN for a bin with none."""
    out = np.full(bins, empty)
    seen = ~np.isnan(values)
    reduce.at(out, which[seen], values[seen])
    out[np.isinf(out)] = np.nan
    return out


def held(values: np.ndarray) -> np.ndarray:
    """A header's value holds until the next response says otherwise: empty bins take the
    last value before them (none before the first)."""
    known = ~np.isnan(values)
    last = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)
