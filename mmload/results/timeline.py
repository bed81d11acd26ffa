"""Per-second aggregates of records: mergeable, so workers' partial seconds add up exactly.

``Timeline.add(block)`` aggregates a block of records (vectorized) into partial seconds;
``Second.merge`` adds another partial of the same second; ``to_dict``/``from_dict`` cross
process boundaries (msgpack-safe); ``row`` renders the CSV row.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmload.results.block import Block
from mmload.results.record import ACCEPTED, LIMITED, REFUSED, outcome_codes

COLUMNS = (
    "second",
    "offered",
    "accepted",
    "limited",
    "errors",
    "remaining_min",
    "remaining_max",
    "limit_min",
    "limit_max",
    "reset_max",
    "retry_after_max",
    "accepted_p50_ms",
    "accepted_p95_ms",
    "limited_p50_ms",
    "limited_p95_ms",
    "client_errors",  # of the errors, those the server answered with a 4xx (not a refusal)
)
_EXPONENT_BIAS = 50


def latency_codes(ms: np.ndarray) -> np.ndarray:
    """Latencies to two significant digits (at most 5% off), as exact integers that merge
    across processes: ``(exponent + 50) * 100 + mantissa`` with a mantissa of 10..99; 0 for
    anything not above zero."""
    ms = np.asarray(ms, dtype=np.float64)
    positive = ms > 0
    safe = np.where(positive, ms, 1.0)
    exponent = np.floor(np.log10(safe))
    mantissa = np.rint(safe / 10.0 ** (exponent - 1))
    carry = mantissa >= 100  # 99.6 rounds up to the next decade
    exponent = np.where(carry, exponent + 1, exponent)
    mantissa = np.where(carry, 10, mantissa)
    codes = (exponent + _EXPONENT_BIAS) * 100 + mantissa
    return np.where(positive, codes, 0).astype(np.int64)


def code_ms(code: int) -> float:
    if code <= 0:
        return 0.0
    exponent, mantissa = divmod(code, 100)
    return float(f"{mantissa}e{exponent - _EXPONENT_BIAS - 1}")


def quantile(histogram: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile in ms of a histogram of latency codes."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for code in sorted(histogram):
        seen += histogram[code]
        if seen >= rank:
            return code_ms(code)
    return code_ms(max(histogram))


def lowest(a: float | None, b: float | None) -> float | None:
    """The lower of two minima, either of which may be unknown (None); None when both are."""
    return b if a is None else a if b is None else min(a, b)


def highest(a: float | None, b: float | None) -> float | None:
    """The higher of two maxima, either of which may be unknown (None); None when both are."""
    return b if a is None else a if b is None else max(a, b)


def _span(values: np.ndarray) -> tuple[float | None, float | None]:
    seen = values[~np.isnan(values)]
    if not len(seen):
        return None, None
    return float(seen.min()), float(seen.max())


def _histogram(codes: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(codes, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


@dataclass
class Second:
    """Everything observed about the requests *sent* in one wall-clock second."""

    second: int
    offered: int = 0
    accepted: int = 0
    limited: int = 0
    errors: int = 0
    client_errors: int = 0
    remaining_min: float | None = None
    remaining_max: float | None = None
    limit_min: float | None = None
    limit_max: float | None = None
    reset_max: float | None = None
    retry_after_max: float | None = None
    accepted_ms: dict[int, int] = field(default_factory=dict)  # latency code -> count
    limited_ms: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, second: int, block: Block, codes: np.ndarray, refusals: Collection[int] = LIMITED
    ) -> Second:
        """The partial second of a block's rows that were all sent in ``second``; ``refusals``:
        the statuses that are limited (429 by default)."""
        outcomes = outcome_codes(block.numbers["status"], refusals)
        limited = outcomes == REFUSED
        accepted = outcomes == ACCEPTED
        s = cls(second, len(block), int(accepted.sum()), int(limited.sum()))
        s.errors = s.offered - s.accepted - s.limited
        status = block.numbers["status"]
        s.client_errors = int(((status >= 400) & (status < 500) & ~limited).sum())
        s.remaining_min, s.remaining_max = _span(block.numbers["remaining"])
        s.limit_min, s.limit_max = _span(block.numbers["limit"])
        s.reset_max = _span(block.numbers["reset"])[1]
        s.retry_after_max = _span(block.numbers["retry_after"])[1]
        s.accepted_ms = _histogram(codes[accepted])
        s.limited_ms = _histogram(codes[limited])
        return s

    def merge(self, other: Second) -> None:
        assert other.second == self.second, "only partials of the same second merge"
        self.offered += other.offered
        self.accepted += other.accepted
        self.limited += other.limited
        self.errors += other.errors
        self.client_errors += other.client_errors
        self.remaining_min = lowest(self.remaining_min, other.remaining_min)
        self.remaining_max = highest(self.remaining_max, other.remaining_max)
        self.limit_min = lowest(self.limit_min, other.limit_min)
        self.limit_max = highest(self.limit_max, other.limit_max)
        self.reset_max = highest(self.reset_max, other.reset_max)
        self.retry_after_max = highest(self.retry_after_max, other.retry_after_max)
        for mine, theirs in (
            (self.accepted_ms, other.accepted_ms),
            (self.limited_ms, other.limited_ms),
        ):
            for code, count in theirs.items():
                mine[code] = mine.get(code, 0) + count

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["accepted_ms"] = list(self.accepted_ms.items())  # msgpack maps want string keys
        d["limited_ms"] = list(self.limited_ms.items())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Second:
        d = dict(d)
        d["accepted_ms"] = {int(k): int(v) for k, v in d["accepted_ms"]}
        d["limited_ms"] = {int(k): int(v) for k, v in d["limited_ms"]}
        return cls(**d)

    def row(self) -> list[object]:
        return [
            self.second,
            self.offered,
            self.accepted,
            self.limited,
            self.errors,
            self.remaining_min,
            self.remaining_max,
            self.limit_min,
            self.limit_max,
            self.reset_max,
            self.retry_after_max,
            quantile(self.accepted_ms, 0.5),
            quantile(self.accepted_ms, 0.95),
            quantile(self.limited_ms, 0.5),
            quantile(self.limited_ms, 0.95),
            self.client_errors,
        ]


class Timeline:
    """Open seconds, keyed by UNIX second.  ``drain`` hands them on and forgets them.
    ``limited``: the statuses that are refusals (the run's; 429 by default)."""

    def __init__(self, limited: Collection[int] = LIMITED) -> None:
        self.limited = frozenset(limited)
        self.seconds: dict[int, Second] = {}

    def add(self, block: Block) -> None:
        """Aggregate a block of records into the seconds they were sent in."""
        if not len(block):
            return
        seconds = np.floor(block.numbers["sent"]).astype(np.int64)
        codes = latency_codes(block.numbers["latency_ms"])
        order = np.argsort(seconds, kind="stable")
        bounds = np.flatnonzero(np.diff(seconds[order])) + 1
        for rows in np.split(order, bounds):
            second = int(seconds[rows[0]])
            self.merge([Second.of(second, block.take(rows), codes[rows], self.limited)])

    def merge(self, partials: Iterable[Second]) -> None:
        for p in partials:
            mine = self.seconds.get(p.second)
            if mine is None:
                self.seconds[p.second] = p
            else:
                mine.merge(p)

    def drain(self, before: float = math.inf) -> list[Second]:
        """Remove and return the seconds earlier than ``before`` (all by default), in order."""
        done = sorted(s for s in self.seconds if s < before)
        return [self.seconds.pop(s) for s in done]
