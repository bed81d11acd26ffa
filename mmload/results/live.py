"""The live rate-limit view's numbers, from the blocks of records a run makes every second.

:class:`Live` keeps, per rate-limit key and endpoint, how many requests were offered, accepted,
limited (429) and failed in each recent second, their totals, and the latest Remaining, Limit and
Reset the server sent.  :meth:`Live.view` derives what the web UI shows: rates over the last few
settled seconds, and a running *estimate* of the enforced rate, the median of the requests
accepted per second over recent seconds that had 429s (the limiter was saturated then).  The
verdict measures the rate properly at the end of the run; this is only meant to be watched.

Fed only when a web UI exists (:mod:`mmload.harness.webui`); the master feeds it every worker's
blocks, so it shows the merged run.  Pure: no Locust, no clock of its own (``now`` is passed in).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.results.tally import outcome_codes

WINDOW = 5  # seconds the rates are averaged over
SETTLE = 1.5  # a second is shown once it ended this long ago: its late answers and workers'
# batches (sent every second) have come in by then
KEEP = 300  # seconds of per-second counts kept, for the chart and the estimate
SATURATED = 30  # the estimate: the median over at most this many recent seconds with 429s
MIN_SATURATED = 3  # ... and at least this many, or there is no estimate yet
ALL = "(all endpoints)"
MAX_ROWS = 200  # rows of the keys with the most requests: more would only slow things down
MAX_KEYS = 20  # keys with the most requests that the chart can show
COLUMNS = ("key", "endpoint", "offered", "accepted", "limited", "requests", "refused", "errors",
           "remaining", "limit", "reset", "enforced", "saturated")  # fmt: skip

Group = tuple[str, str]  # (rate-limit key, endpoint)
Counts = list[int]  # offered, accepted, limited, errors
_NAN4 = (-math.inf, math.nan, math.nan, math.nan)
HEADERS = ("remaining", "limit", "reset")


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _rate(total: int, span: int) -> float | None:
    return round(total / span, 2) if span > 0 else None


def estimate(per_second: dict[int, Counts], settled: int) -> tuple[float | None, int]:
    """The median accepted per second over the latest settled seconds that had 429s, and how
    many such seconds there were (up to ``SATURATED``); None while there are too few."""
    saturated: list[int] = []
    second, lowest = settled, min(per_second, default=settled + 1)
    while second >= lowest and len(saturated) < SATURATED:  # from the latest, back
        counts = per_second.get(second)
        if counts is not None and counts[2] > 0:
            saturated.append(counts[1])
        second -= 1
    if len(saturated) < MIN_SATURATED:
        return None, len(saturated)
    return float(np.median(saturated)), len(saturated)


class Live:
    def __init__(self, documented: Documented, keep: int = KEEP) -> None:
        self.documented = documented
        self.keep = keep
        self.clear()

    def clear(self) -> None:
        """Start afresh (Locust's Reset button); the run folder keeps everything."""
        self.per_second: dict[Group, dict[int, Counts]] = {}
        self.totals: dict[Group, Counts] = {}
        self.latest: dict[Group, tuple[float, float, float, float]] = {}  # sent, Remaining,
        # Limit, Reset (as sent) of the last response with rate-limit headers; NaN: absent
        self.first: int | None = None  # the first second seen
        self.newest: int | None = None
        self._adds = 0
        self._shown: tuple[tuple[int, int], dict[str, Any]] | None = None  # the last view

    def add(self, block: Block) -> None:
        """Count a block of records (vectorized: one pass per distinct group, second, outcome)."""
        if not len(block):
            return
        self._adds += 1
        seconds = np.floor(block.numbers["sent"]).astype(np.int64)
        lo, hi = int(seconds.min()), int(seconds.max())
        width = len(block.tables["endpoint"]) or 1
        pairs = block.codes["key"].astype(np.int64) * width + block.codes["endpoint"]
        found, group = np.unique(pairs, return_inverse=True)
        keys, endpoints = block.tables["key"], block.tables["endpoint"]
        names = [(keys[p // width], endpoints[p % width]) for p in found.tolist()]
        span = hi - lo + 1
        combined = (group * span + (seconds - lo)) * 3 + outcome_codes(block.numbers["status"])
        values, counts = np.unique(combined, return_counts=True)
        for value, n in zip(values.tolist(), counts.tolist(), strict=True):
            rest, outcome = divmod(value, 3)
            g, second = divmod(rest, span)
            name = names[g]
            mine = self.per_second.setdefault(name, {}).setdefault(lo + second, [0, 0, 0, 0])
            total = self.totals.setdefault(name, [0, 0, 0, 0])
            for c in (mine, total):
                c[0] += n
                c[1 + outcome] += n
        self._note_latest(block, group, names)
        self.first = lo if self.first is None else min(self.first, lo)
        if self.newest is None or hi > self.newest:
            self.newest = hi
            self._forget(hi - self.keep)

    def _note_latest(self, block: Block, group: np.ndarray, names: list[Group]) -> None:
        numbers = block.numbers
        headers = ~(np.isnan(numbers["limit"]) & np.isnan(numbers["remaining"])
                    & np.isnan(numbers["reset"]))  # fmt: skip
        rows = np.flatnonzero(headers)
        if not len(rows):
            return
        rows = rows[np.lexsort((numbers["sent"][rows], group[rows]))]
        last = rows[np.r_[group[rows][1:] != group[rows][:-1], True]]
        for row in last.tolist():
            name, sent = names[group[row]], float(numbers["sent"][row])
            if sent >= self.latest.get(name, _NAN4)[0]:
                remaining, limit, reset = (float(numbers[f][row]) for f in HEADERS)
                self.latest[name] = (sent, remaining, limit, reset)

    def _forget(self, before: int) -> None:
        for per_second in self.per_second.values():
            for second in [s for s in per_second if s < before]:
                del per_second[second]

    # what the web UI shows
    def view(self, now: float) -> dict[str, Any]:
        """Rows per key and endpoint (and per key for all its endpoints, where it has several),
        and per-second series of the keys with the most requests, up to the last settled
        second: JSON-safe.  Computed once per new second or new block, however many browsers
        ask: callers must not change it."""
        settled = math.floor(now - SETTLE) - 1
        if self._shown is not None and self._shown[0] == (settled, self._adds):
            return self._shown[1]
        rows: list[dict[str, Any]] = []
        series: list[dict[str, Any]] = []
        for key, groups in self._by_key():
            if len(rows) >= MAX_ROWS:
                break
            merged = _merged([self.per_second.get(g, {}) for g in groups])
            if len(groups) > 1:
                rows.append(self._row((key, ALL), merged, groups, settled))
            rows += [self._row(g, self.per_second.get(g, {}), [g], settled) for g in groups]
            if len(series) < MAX_KEYS:
                series.append(self._series(key, merged, settled))
        view = {
            "documented": {**self.documented.to_dict(), "text": str(self.documented)},
            "settled": settled,
            "first": self.first,
            "window": WINDOW,
            "rows": rows[:MAX_ROWS],
            "keys": series,
        }
        self._shown = ((settled, self._adds), view)
        return view

    def _by_key(self) -> list[tuple[str, list[Group]]]:
        """Keys with the most requests first, each with its endpoints (most requests first)."""
        keys: dict[str, list[Group]] = {}
        for g in sorted(self.totals, key=lambda g: -self.totals[g][0]):
            keys.setdefault(g[0], []).append(g)
        return sorted(keys.items(), key=lambda kv: -sum(self.totals[g][0] for g in kv[1]))

    def _span(self, settled: int) -> int:
        return 0 if self.first is None else max(0, min(WINDOW, settled - self.first + 1))

    def _row(
        self, name: Group, per_second: dict[int, Counts], groups: list[Group], settled: int
    ) -> dict[str, Any]:
        span = self._span(settled)
        recent = [per_second.get(s) for s in range(settled - span + 1, settled + 1)]
        sums = [sum(c[i] for c in recent if c) for i in range(3)]
        totals = [sum(self.totals[g][i] for g in groups) for i in range(4)]
        latest = max((self.latest[g] for g in groups if g in self.latest), default=_NAN4)
        enforced, saturated = estimate(per_second, settled)
        return {
            "key": name[0], "endpoint": name[1],
            "offered": _rate(sums[0], span), "accepted": _rate(sums[1], span),
            "limited": _rate(sums[2], span),
            "requests": totals[0], "refused": totals[2], "errors": totals[3],
            "remaining": _number(latest[1]), "limit": _number(latest[2]),
            "reset": _number(latest[3]), "enforced": enforced, "saturated": saturated,
        }  # fmt: skip

    def _series(self, key: str, per_second: dict[int, Counts], settled: int) -> dict[str, Any]:
        start = max(self.first if self.first is not None else settled + 1, settled - self.keep + 1)
        seconds = range(start, settled + 1)
        empty = [0, 0, 0, 0]
        columns = [[per_second.get(s, empty)[i] for s in seconds] for i in range(3)]
        return {
            "key": key,
            "start": start,
            "offered": columns[0],
            "accepted": columns[1],
            "limited": columns[2],
            "enforced": estimate(per_second, settled)[0],
        }


def _merged(parts: list[dict[int, Counts]]) -> dict[int, Counts]:
    """Per-second counts of several endpoints of a key, added up."""
    if len(parts) == 1:
        return parts[0]
    out: dict[int, Counts] = {}
    for part in parts:
        for second, counts in part.items():
            mine = out.setdefault(second, [0, 0, 0, 0])
            for i, n in enumerate(counts):
                mine[i] += n
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The view's rows as CSV, one line per key and endpoint; empty cells where unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()
