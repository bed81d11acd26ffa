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
from mmload.results.folder import check_run_folder, read_run_or_empty, read_server
from mmload.results.records_file import read_blocks
from mmload.results.tally import outcome_codes
from mmload.results.timeline import COLUMNS
from mmload.results.timeline_file import TIMELINE_CSV, read_timeline
from mmload.verdict import documented_of, schema, verify
from mmload.verdict.schema import Measured, Verdict

SHORTEST = 0.25  # s: a last second cut shorter than this holds too few requests to be a rate
WHOLE = 0.95  # s: a second cut no shorter than this is drawn whole
SOAK_MINUTES = 10  # a run this long gets a soak view, minute by minute
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
class Soak:
    """A long run minute by minute: what each bucket that refused something accepted per
    second (the enforced rate, as it drifts), the share of requests refused, and the reference
    server's memory when it ran one."""

    minute: np.ndarray  # each minute's start, seconds from the run's start
    rate: np.ndarray  # accepted per second per bucket that refused in that minute; NaN: none did
    refused: np.ndarray  # the share of that minute's requests refused
    memory_t: np.ndarray  # seconds from the run's start
    memory_mb: np.ndarray  # the server's resident memory then


@dataclass
class RecordStats:
    keys: list[KeySeries]
    latency_p95: dict[str, float | None]  # accepted / limited, over the whole run
    soak: Soak | None = None  # for a run of SOAK_MINUTES or more


def record_stats(view: RunView, keys: int = 3, bins: int = 1500) -> RecordStats:
    """The busiest ``keys`` keys' headers, and whole-run latency quantiles, from the records;
    it notes on the view when the last request was sent (see :func:`rates`).

    Two passes over the frames, in the order they were written: what each key spans and every
    latency first (4 bytes each), then the busiest keys' headers into ``bins`` bins, so memory
    holds a frame and the bins, not the run."""
    first = _FirstPass(view.start, view.limited_status)
    for block in read_blocks(view.folder):
        first.add(block)
    if first.requests:
        view.last_sent = first.last_sent
    p95 = {name: first.p95(code) for name, code in (("accepted", 0), ("limited", 1))}
    soak = _soak(view, first)
    busiest = sorted(first.count, key=lambda k: -first.count[k])[:keys]
    if not busiest:
        return RecordStats([], p95, soak)
    series = {k: _KeyBins(k, first, view.start, bins) for k in busiest}
    for block in read_blocks(view.folder):
        codes, table = block.codes["key"], block.tables["key"]
        for code, name in enumerate(table):
            if name in series:
                rows = codes == code
                if rows.any():
                    series[name].add(block, rows)
    return RecordStats([series[k].done() for k in busiest], p95, soak)


def _soak(view: RunView, first: _FirstPass) -> Soak | None:
    seconds = np.bincount((view.t // 60).astype(np.int64)) if len(view.t) else np.zeros(0)
    if len(seconds) < SOAK_MINUTES or not first.minutes:
        return None
    n = len(seconds)
    accepted, buckets, offered, refused = (np.zeros(n) for _ in range(4))
    for (minute, _key), (acc, ref) in first.minutes.items():
        if 0 <= minute < n:
            offered[minute] += acc + ref
            refused[minute] += ref
            if ref:
                accepted[minute] += acc
                buckets[minute] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(buckets > 0, accepted / (buckets * np.maximum(seconds, 1)), np.nan)
        share = np.where(offered > 0, refused / offered, np.nan)
    samples = (read_server(view.folder) or {}).get("memory_mb") or []
    pairs = np.array([p for p in samples if isinstance(p, list) and len(p) == 2], dtype=float)
    pairs = pairs.reshape(-1, 2)
    return Soak(np.arange(n) * 60.0, rate, share, pairs[:, 0] - view.start, pairs[:, 1])


class _FirstPass:
    """Per key: how many requests, when the first and last were sent, its largest Reset; every
    latency by outcome; per minute of the run and key, the accepted and refused requests."""

    def __init__(self, start: float, limited: tuple[int, ...]) -> None:
        self.start, self.limited = start, np.array(limited, dtype=np.int32)
        self.minutes: dict[tuple[int, str], list[int]] = {}
        self.count: dict[str, int] = {}
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.reset: dict[str, float] = {}
        self.latency: dict[int, list[np.ndarray]] = {0: [], 1: []}
        self.requests = 0
        self.last_sent = -np.inf

    def add(self, block: Any) -> None:
        n = len(block)
        if not n:
            return
        self.requests += n
        sent, codes = block.numbers["sent"], block.codes["key"].astype(np.int64)
        self.last_sent = max(self.last_sent, float(np.nanmax(sent)))
        width = len(block.tables["key"])
        counts = np.bincount(codes, minlength=width)
        low, high, reset = np.full(width, np.inf), np.full(width, -np.inf), np.zeros(width)
        np.fmin.at(low, codes, sent)
        np.fmax.at(high, codes, sent)
        np.fmax.at(reset, codes, np.nan_to_num(block.numbers["reset"], nan=0.0))
        for code in np.flatnonzero(counts).tolist():
            key = block.tables["key"][code]
            self.count[key] = self.count.get(key, 0) + int(counts[code])
            self.first[key] = min(self.first.get(key, np.inf), float(low[code]))
            self.last[key] = max(self.last.get(key, -np.inf), float(high[code]))
            self.reset[key] = max(self.reset.get(key, 0.0), float(reset[code]))
        status = block.numbers["status"]
        answered = status > 0
        minute = np.maximum(np.floor((sent - self.start) / 60), 0).astype(np.int64)
        pair = (minute[answered] * width + codes[answered]) * 2 + np.isin(
            status[answered], self.limited
        )
        found, counts = np.unique(pair, return_counts=True)
        for value, count in zip(found.tolist(), counts.tolist(), strict=True):
            (m, code), ref = divmod(value // 2, width), value % 2
            slot = self.minutes.setdefault((m, block.tables["key"][code]), [0, 0])
            slot[ref] += count
        outcome = outcome_codes(status)
        for code, kept in self.latency.items():
            kept.append(block.numbers["latency_ms"][outcome == code].astype(np.float32))

    def p95(self, code: int) -> float | None:
        values = np.concatenate(self.latency[code]) if self.latency[code] else np.empty(0)
        return float(np.percentile(values.astype(np.float64), 95)) if len(values) else None


class _KeyBins:
    """One key's headers binned as its records come, in any order."""

    def __init__(self, key: str, first: _FirstPass, start: float, bins: int) -> None:
        self.key, self.start, self.bins = key, start, bins
        self.requests = first.count[key]
        lo, hi = first.first[key] - start, first.last[key] - start
        self.edges = np.linspace(lo, hi + 1e-9, bins + 1)
        self.epoch = first.reset[key] > EPOCH_ABOVE
        self.coarse = np.linspace(self.edges[0], self.edges[-1], min(MARKS, bins) + 1)
        self.low = np.full(bins, np.inf)
        self.high = {c: np.full(bins, -np.inf) for c in ("remaining", "limit", "reset")}
        self.retry = np.full(len(self.coarse) - 1, -np.inf)

    def add(self, block: Any, rows: np.ndarray) -> None:
        num = {k: v[rows] for k, v in block.numbers.items()}
        t = num["sent"] - self.start
        which = np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, self.bins - 1)
        reset = num["reset"]
        if self.epoch:  # shown as seconds from the response's Date (or its send time)
            reset = reset - np.where(np.isnan(num["date"]), num["sent"], num["date"])
        _into(np.fmin, self.low, which, num["remaining"])
        for name, values in (("remaining", num["remaining"]), ("limit", num["limit"])):
            _into(np.fmax, self.high[name], which, values)
        _into(np.fmax, self.high["reset"], which, reset)
        retry = ~np.isnan(num["retry_after"])
        coarse = np.searchsorted(self.coarse, t[retry], side="right") - 1
        _into(
            np.fmax, self.retry, np.clip(coarse, 0, len(self.retry) - 1), num["retry_after"][retry]
        )

    def done(self) -> KeySeries:
        centres = (self.edges[:-1] + self.edges[1:]) / 2
        marks = (self.coarse[:-1] + self.coarse[1:]) / 2
        shown = np.isfinite(self.retry)
        return KeySeries(
            key=self.key,
            requests=self.requests,
            t=centres,
            remaining_min=held(_finite(self.low)),
            remaining_max=held(_finite(self.high["remaining"])),
            limit=held(_finite(self.high["limit"])),
            reset=held(_finite(self.high["reset"])),
            reset_is_epoch=self.epoch,
            retry_t=marks[shown],
            retry_after=self.retry[shown],
        )


def _into(reduce: np.ufunc, out: np.ndarray, which: np.ndarray, values: np.ndarray) -> None:
    seen = ~np.isnan(values)
    reduce.at(out, which[seen], values[seen])


def _finite(values: np.ndarray) -> np.ndarray:
    """Bins no value reached are NaN."""
    return np.where(np.isinf(values), np.nan, values)


def held(values: np.ndarray) -> np.ndarray:
    """A header's value holds until the next response says otherwise: empty bins take the
    last value before them (none before the first)."""
    known = ~np.isnan(values)
    last = np.maximum.accumulate(np.where(known, np.arange(len(values)), -1))
    return np.where(last >= 0, values[np.maximum(last, 0)], np.nan)
