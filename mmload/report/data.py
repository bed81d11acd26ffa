"""What a report shows, read from a run folder alone: the run's settings, its verdict, its
timeline as numpy columns, and per-key header series from its records.

Everything here reads files written by :mod:`mmload.results` and :mod:`mmload.verdict.output`;
nothing needs the process that ran the load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmload.results.folder import read_run_or_empty
from mmload.results.records import RECORDS_BIN, load_records
from mmload.results.tally import outcome_codes
from mmload.results.timeline import COLUMNS
from mmload.results.timeline_file import TIMELINE_CSV, read_timeline
from mmload.verdict import verify
from mmload.verdict.output import VERDICT_JSON

EPOCH_FLOOR = 1e9  # a Reset value above this is an epoch, not a delta


class NotARunFolder(ValueError):
    pass


@dataclass
class RunView:
    folder: Path
    run: dict[str, Any]
    verdict: dict[str, Any] | None
    verdict_saved: bool  # False: computed for this report, not in the folder
    start: float  # epoch second the run's time axis starts at
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # timeline, NaN for None

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def t(self) -> np.ndarray:
        """Seconds from the run's start, one per timeline row."""
        return self.columns["second"] - self.start

    @property
    def documented(self) -> dict[str, Any]:
        found = (self.verdict or {}).get("documented")
        if isinstance(found, dict):
            return found
        settings = self.run.get("settings") or {}
        return settings.get("documented_limit") or {}

    @property
    def documented_rate(self) -> float | None:
        rate = self.documented.get("per_sec")
        return float(rate) if rate else None

    @property
    def measured(self) -> dict[str, Any]:
        return (self.verdict or {}).get("measured") or {}

    @property
    def passed(self) -> bool | None:
        return None if self.verdict is None else bool(self.verdict.get("passed"))

    def total(self, column: str) -> float:
        return float(np.nansum(self.columns[column])) if len(self.columns[column]) else 0.0


def load(folder: Path) -> RunView:
    """The run in ``folder``, with its verdict if it has one (see :func:`ensure_verdict`)."""
    if not (folder / RECORDS_BIN).is_file() or not (folder / TIMELINE_CSV).is_file():
        raise NotARunFolder(f"{folder} is not a run folder (it has no {RECORDS_BIN})")
    run = read_run_or_empty(folder)
    saved = _read_verdict(folder)
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
        view.verdict = found.to_dict() if found.answered else None
    return view


def _read_verdict(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / VERDICT_JSON).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    """The busiest ``keys`` keys' headers, and whole-run latency quantiles, from the records."""
    block = load_records(view.folder)
    n = len(block)
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
    epoch = bool(np.nanmax(reset, initial=0.0) > EPOCH_FLOOR)
    if epoch:  # shown as seconds from the response's Date (or its send time)
        base = np.where(np.isnan(num["date"]), num["sent"], num["date"])
        reset = reset - base
    edges = np.linspace(t.min(), t.max() + 1e-9, bins + 1) if len(t) else np.zeros(1)
    which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    retry = ~np.isnan(num["retry_after"])
    return KeySeries(
        key=key,
        requests=int(mask.sum()),
        t=centres,
        remaining_min=held(_binned(np.fmin, which, num["remaining"], bins, np.inf)),
        remaining_max=held(_binned(np.fmax, which, num["remaining"], bins, -np.inf)),
        limit=held(_binned(np.fmax, which, num["limit"], bins, -np.inf)),
        reset=held(_binned(np.fmax, which, reset, bins, -np.inf)),
        reset_is_epoch=epoch,
        retry_t=centres[np.unique(which[retry])],
        retry_after=_binned(np.fmax, which[retry], num["retry_after"][retry], bins, -np.inf)[
            np.unique(which[retry])
        ],
    )


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
