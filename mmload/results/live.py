"""The live rate-limit view's numbers, from the blocks of records a run makes every second.

:class:`Live` keeps, per rate-limit key and endpoint, how many requests were offered, accepted,
limited (429, or the statuses the run is told are refusals: ``--limited-status``) and failed in
each recent second, their totals, and the latest Remaining, Limit and Reset the server sent.
:meth:`Live.view` derives what the web UI shows: rates over the last few settled seconds, and a
running *estimate* of the enforced rate, the median of the requests accepted per second over
recent seconds that had refusals (the limiter was saturated then).  The verdict measures the
rate properly at the end of the run; this is only meant to be watched.

Rows: with several keys, first those of all keys (key ``(all keys)``), overall and per endpoint;
then per key, its endpoints together (``(all endpoints)``) and each.  A row counting exactly the
requests of a more specific one is left out.  A 429 comes from a key's bucket, which all its
endpoints drain, so the estimate is only on rows that cover whole keys: a key's (``saturated``:
its seconds with 429s), and rows of all keys covering theirs whole: the median of the listed
keys' estimates (``saturated``: how many keys have one).  Remaining and Reset are per key only.

Fed only when a web UI exists (:mod:`mmload.harness.webui`); the master feeds it every worker's
blocks, so it shows the merged run.  Pure: no Locust, no clock of its own (``now`` is passed in).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection
from typing import Any

import numpy as np

from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.results.record import LIMITED, limited_label, outcome_codes

WINDOW = 5  # seconds the rates are averaged over
SETTLE = 1.5  # a second is shown once it ended this long ago: its late answers and workers'
# batches (sent every second) have come in by then
KEEP = 300  # seconds of per-second counts kept, for the chart and the estimate
SATURATED = 30  # the estimate: the median over at most this many recent seconds with 429s
MIN_SATURATED = 3  # ... and at least this many, or there is no estimate yet
ALL = "(all endpoints)"
ALL_KEYS = "(all keys)"
MAX_ROWS = 200  # rows of the keys with the most requests: more would only slow things down
MAX_KEYS = 20  # keys with the most requests that the chart can show
COLUMNS = (
    "key",
    "endpoint",
    "offered",
    "accepted",
    "limited",
    "requests",
    "refused",
    "errors",
    "remaining",
    "limit",
    "reset",
    "enforced",
    "saturated",
)

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
    """``limited``: the statuses that are refusals (the run's; 429 by default)."""

    def __init__(
        self, documented: Documented, keep: int = KEEP, limited: Collection[int] = LIMITED
    ) -> None:
        self.documented = documented
        self.keep = keep
        self.limited = frozenset(limited)
        self.clear()

    def clear(self) -> None:
        """Start afresh (Locust's Reset button); the run folder keeps everything."""
        self.per_second: dict[Group, dict[int, Counts]] = {}  # also (ALL_KEYS, endpoint)
        self.totals: dict[Group, Counts] = {}
        self.latest: dict[Group, tuple[float, float, float, float]] = {}  # sent, Remaining,
        # Limit, Reset (as sent) of the last response with rate-limit headers; NaN: absent
        self.first: int | None = None  # the first second seen
        self.newest: int | None = None
        self._adds = 0
        self._shown: tuple[tuple[int, int], dict[str, Any]] | None = None  # the last view

    def add(self, block: Block) -> None:
        """Count a block of records per key and endpoint, and per endpoint for all keys
        (``(all keys)``, so a view need not add up every key), vectorized."""
        if not len(block):
            return
        self._adds += 1
        seconds = np.floor(block.numbers["sent"]).astype(np.int64)
        lo, hi = int(seconds.min()), int(seconds.max())
        outcomes = outcome_codes(block.numbers["status"], self.limited)
        keys, endpoints = block.tables["key"], block.tables["endpoint"]
        width = len(endpoints) or 1
        pairs = block.codes["key"].astype(np.int64) * width + block.codes["endpoint"]
        found, by_pair = np.unique(pairs, return_inverse=True)
        pair_names = [(keys[p // width], endpoints[p % width]) for p in found.tolist()]
        found, by_endpoint = np.unique(block.codes["endpoint"], return_inverse=True)
        endpoint_names = [(ALL_KEYS, endpoints[e]) for e in found.tolist()]
        for names, group in ((pair_names, by_pair), (endpoint_names, by_endpoint)):
            self._count(names, group, seconds - lo, lo, outcomes)
            self._note_latest(block, group, names)
        self.first = lo if self.first is None else min(self.first, lo)
        if self.newest is None or hi > self.newest:
            self.newest = hi
            self._forget(hi - self.keep)

    def _count(
        self, names: list[Group], group: np.ndarray, at: np.ndarray, lo: int, outcomes: np.ndarray
    ) -> None:
        """Add up records by group, second (``at``, from ``lo``) and outcome, vectorized."""
        span = int(at.max()) + 1
        combined = (group.astype(np.int64) * span + at) * 3 + outcomes
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

    def _note_latest(self, block: Block, group: np.ndarray, names: list[Group]) -> None:
        numbers = block.numbers
        headers = ~(
            np.isnan(numbers["limit"]) & np.isnan(numbers["remaining"]) & np.isnan(numbers["reset"])
        )
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
        """Rows across keys (overall and per endpoint, with several keys), then per key (its
        endpoints together, where it has several, then each), and per-second series of the keys
        with the most requests, up to the last settled second: JSON-safe.  Computed once per new
        second or new block, however many browsers ask: callers must not change it."""
        settled = math.floor(now - SETTLE) - 1
        if self._shown is not None and self._shown[0] == (settled, self._adds):
            return self._shown[1]
        by_key = self._by_key()
        endpoints = sorted((g for g in self.totals if g[0] == ALL_KEYS), key=self._busiest)
        across = len(endpoints) + (len(endpoints) > 1) if len(by_key) > 1 else 0
        rows: list[dict[str, Any]] = []
        series: list[dict[str, Any]] = []
        estimates: dict[str, tuple[float | None, int]] = {}
        for key, groups in by_key:
            if across + len(rows) >= MAX_ROWS:
                break
            merged = _merged([self.per_second.get(g, {}) for g in groups])
            estimates[key] = estimate(merged, settled)
            whole = len(groups) == 1  # its only endpoint's row is the key's row
            if not whole:
                rows.append(self._row((key, ALL), groups, settled, estimates[key]))
            rows += [self._row(g, [g], settled, estimates[key] if whole else None) for g in groups]
            if len(series) < MAX_KEYS:
                series.append(self._series(key, merged, settled, estimates[key][0]))
        if across:
            rows[:0] = self._across_keys(endpoints, by_key, settled, estimates)
        view = {
            "documented": {**self.documented.to_dict(), "text": str(self.documented)},
            "limited_status": sorted(self.limited),
            "limited_label": limited_label(self.limited),  # what the page calls refusals
            "settled": settled,
            "first": self.first,
            "window": WINDOW,
            "rows": rows[:MAX_ROWS],
            "keys": series,
        }
        self._shown = ((settled, self._adds), view)
        return view

    def _busiest(self, g: Group) -> tuple[int, Group]:
        """Most requests first, then by name: the same order whatever order blocks came in."""
        return -self.totals[g][0], g

    def _by_key(self) -> list[tuple[str, list[Group]]]:
        """Keys with the most requests first, each with its endpoints (most requests first)."""
        keys: dict[str, list[Group]] = {}
        sums: dict[str, int] = {}
        for g, counts in self.totals.items():
            if g[0] != ALL_KEYS:
                keys.setdefault(g[0], []).append(g)
                sums[g[0]] = sums.get(g[0], 0) + counts[0]
        ordered = sorted(keys, key=lambda k: (-sums[k], k))
        return [(k, sorted(keys[k], key=self._busiest)) for k in ordered]

    def _across_keys(
        self,
        endpoints: list[Group],
        by_key: list[tuple[str, list[Group]]],
        settled: int,
        estimates: dict[str, tuple[float | None, int]],
    ) -> list[dict[str, Any]]:
        """The rows of all keys: overall (with several endpoints) and per endpoint.  A row that
        covers its keys whole (all their endpoints) gets the median of the listed keys'
        estimates; a row of parts of keys none: their 429s come from buckets other endpoints
        drain too."""
        shared = {g[1] for _, groups in by_key if len(groups) > 1 for g in groups}
        alone: dict[str, list[float | None]] = {}  # per endpoint, its one-endpoint keys'
        for key, groups in by_key:
            if key in estimates and len(groups) == 1:
                alone.setdefault(groups[0][1], []).append(estimates[key][0])

        def median(found: list[float | None]) -> tuple[float | None, int]:
            known = [e for e in found if e is not None]
            return (float(np.median(known)) if known else None), len(known)

        rows = [
            self._row(g, [g], settled, None if g[1] in shared else median(alone.get(g[1], [])))
            for g in endpoints
        ]
        if len(endpoints) > 1:
            overall = median([e for e, _ in estimates.values()])
            rows.insert(0, self._row((ALL_KEYS, ALL), endpoints, settled, overall))
        return rows

    def _span(self, settled: int) -> int:
        return 0 if self.first is None else max(0, min(WINDOW, settled - self.first + 1))

    def _row(
        self,
        name: Group,
        groups: list[Group],
        settled: int,
        estimated: tuple[float | None, int] | None,
    ) -> dict[str, Any]:
        span = self._span(settled)
        recent = [_window(self.per_second.get(g, {}), settled, span) for g in groups]
        sums = [sum(r[i] for r in recent) for i in range(3)]
        totals = [sum(self.totals[g][i] for g in groups) for i in range(4)]
        latest = max((self.latest[g] for g in groups if g in self.latest), default=_NAN4)
        _, remaining, limit, reset = latest
        if name[0] == ALL_KEYS:  # Remaining and Reset of whichever key answered last: noise
            remaining = reset = math.nan
        enforced, saturated = estimated if estimated is not None else (None, None)
        return {
            "key": name[0],
            "endpoint": name[1],
            "offered": _rate(sums[0], span),
            "accepted": _rate(sums[1], span),
            "limited": _rate(sums[2], span),
            "requests": totals[0],
            "refused": totals[2],
            "errors": totals[3],
            "remaining": _number(remaining),
            "limit": _number(limit),
            "reset": _number(reset),
            "enforced": enforced,
            "saturated": saturated,
        }

    def _series(
        self, key: str, per_second: dict[int, Counts], settled: int, enforced: float | None
    ) -> dict[str, Any]:
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
            "enforced": enforced,
        }


def _window(per_second: dict[int, Counts], settled: int, span: int) -> Counts:
    """Offered, accepted and limited over the ``span`` seconds up to ``settled``."""
    sums = [0, 0, 0]
    for second in range(settled - span + 1, settled + 1):
        counts = per_second.get(second)
        if counts is not None:
            for i in range(3):
                sums[i] += counts[i]
    return sums


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
    """The view's rows as CSV, a line per row, in the view's order (rows of all keys have the
    key ``(all keys)``, a key's rows for all its endpoints ``(all endpoints)``); empty cells
    where unknown or not meaningful."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in COLUMNS])
    return out.getvalue()
