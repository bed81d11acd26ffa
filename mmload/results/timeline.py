"""Per-second aggregates of records: mergeable, so workers' partial seconds add up exactly.

``Second.add(record)`` accumulates; ``merge`` adds another partial of the same second;
``to_dict``/``from_dict`` cross process boundaries (msgpack-safe); ``row`` renders the CSV row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mmload.results.record import Record

COLUMNS = (
    "second", "offered", "accepted", "limited", "errors",
    "remaining_min", "remaining_max", "limit_min", "limit_max", "reset_max", "retry_after_max",
    "accepted_p50_ms", "accepted_p95_ms", "limited_p50_ms", "limited_p95_ms",
)  # fmt: skip


def latency_bucket(ms: float) -> float:
    """Two significant digits (at most 5% off): small, mergeable latency histograms."""
    if ms <= 0:
        return 0.0
    return round(ms, 1 - math.floor(math.log10(ms)))


def quantile(histogram: dict[float, int], q: float) -> float | None:
    total = sum(histogram.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return max(histogram)


def _lo(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _hi(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Second:
    """Everything observed about the requests *sent* in one wall-clock second."""

    second: int
    offered: int = 0
    accepted: int = 0
    limited: int = 0
    errors: int = 0
    remaining_min: float | None = None
    remaining_max: float | None = None
    limit_min: float | None = None
    limit_max: float | None = None
    reset_max: float | None = None
    retry_after_max: float | None = None
    accepted_ms: dict[float, int] = field(default_factory=dict)
    limited_ms: dict[float, int] = field(default_factory=dict)

    def add(self, r: Record) -> None:
        """Once per request (in the flusher), so inlined: the outcome test is
        ``record.outcome``'s, the comparisons are ``_lo``/``_hi``'s."""
        self.offered += 1
        _, latency, _, status, _, limit, remaining, reset, retry, _ = r
        bucket = latency_bucket(latency)
        if status == 429:
            self.limited += 1
            self.limited_ms[bucket] = self.limited_ms.get(bucket, 0) + 1
        elif 0 < status < 400:
            self.accepted += 1
            self.accepted_ms[bucket] = self.accepted_ms.get(bucket, 0) + 1
        else:
            self.errors += 1
        if remaining is not None:
            if self.remaining_min is None or remaining < self.remaining_min:
                self.remaining_min = remaining
            if self.remaining_max is None or remaining > self.remaining_max:
                self.remaining_max = remaining
        if limit is not None:
            if self.limit_min is None or limit < self.limit_min:
                self.limit_min = limit
            if self.limit_max is None or limit > self.limit_max:
                self.limit_max = limit
        if reset is not None and (self.reset_max is None or reset > self.reset_max):
            self.reset_max = reset
        if retry is not None and (self.retry_after_max is None or retry > self.retry_after_max):
            self.retry_after_max = retry

    def merge(self, other: Second) -> None:
        assert other.second == self.second, "only partials of the same second merge"
        self.offered += other.offered
        self.accepted += other.accepted
        self.limited += other.limited
        self.errors += other.errors
        self.remaining_min = _lo(self.remaining_min, other.remaining_min)
        self.remaining_max = _hi(self.remaining_max, other.remaining_max)
        self.limit_min = _lo(self.limit_min, other.limit_min)
        self.limit_max = _hi(self.limit_max, other.limit_max)
        self.reset_max = _hi(self.reset_max, other.reset_max)
        self.retry_after_max = _hi(self.retry_after_max, other.retry_after_max)
        for mine, theirs in (
            (self.accepted_ms, other.accepted_ms),
            (self.limited_ms, other.limited_ms),
        ):
            for bucket, count in theirs.items():
                mine[bucket] = mine.get(bucket, 0) + count

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["accepted_ms"] = list(self.accepted_ms.items())  # msgpack maps want string keys
        d["limited_ms"] = list(self.limited_ms.items())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Second:
        d = dict(d)
        d["accepted_ms"] = {float(k): int(v) for k, v in d["accepted_ms"]}
        d["limited_ms"] = {float(k): int(v) for k, v in d["limited_ms"]}
        return cls(**d)

    def row(self) -> list[object]:
        return [
            self.second, self.offered, self.accepted, self.limited, self.errors,
            self.remaining_min, self.remaining_max, self.limit_min, self.limit_max,
            self.reset_max, self.retry_after_max,
            quantile(self.accepted_ms, 0.5), quantile(self.accepted_ms, 0.95),
            quantile(self.limited_ms, 0.5), quantile(self.limited_ms, 0.95),
        ]  # fmt: skip


class Timeline:
    """Open seconds, keyed by UNIX second.  ``drain`` hands them on and forgets them."""

    def __init__(self) -> None:
        self.seconds: dict[int, Second] = {}

    def add(self, records: Iterable[Record]) -> None:
        seconds = self.seconds
        for r in records:
            s = int(r.sent)
            bucket = seconds.get(s)
            if bucket is None:
                bucket = seconds[s] = Second(s)
            bucket.add(r)

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
