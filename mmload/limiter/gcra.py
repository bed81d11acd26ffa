"""GCRA with exactly the arithmetic of throttled v2 (``rate.go``), as Mattermost uses it.

Everything is integer nanoseconds, like Go's ``time.Duration``: float seconds give a Remaining of
99 where Go gives 100.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mmload.limiter.decision import NS, Decision
from mmload.limiter.rate import Rate
from mmload.limiter.store import LRUStore


def emission_interval_ns(per_sec: float) -> int:
    """``time.Second / time.Duration(n)``: Go's integer division for whole rates."""
    if float(per_sec).is_integer():
        return NS // int(per_sec)
    return round(NS / per_sec)


def tolerance_ns(per_sec: float, capacity: int) -> int:
    """throttled's delay variation tolerance: ``capacity`` emission intervals, how far ahead of
    now the theoretical arrival time may run before a request is refused."""
    return emission_interval_ns(per_sec) * capacity


def emission_interval_s(per_sec: float) -> float:
    """The emission interval in float seconds (the verdict's buckets, not throttled's)."""
    return 1.0 / per_sec


def tolerance_s(per_sec: float, capacity: float) -> float:
    """The delay variation tolerance in float seconds: how long an empty bucket of ``capacity``
    takes to fill up again at ``per_sec``."""
    return capacity / per_sec


class GCRA:
    """``hit(key)`` admits or refuses one request and reports throttled's RateLimitResult."""

    def __init__(
        self,
        rate: Rate,
        store: LRUStore[int],
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.emission_interval = emission_interval_ns(rate.per_sec)
        self.limit = rate.capacity
        self.delay_variation_tolerance = tolerance_ns(rate.per_sec, self.limit)
        self.store = store
        self.clock = clock

    def hit(self, key: str, quantity: int = 1) -> Decision:
        now = self.clock()
        stored = self.store.get(key)
        tat = now if stored is None else stored
        increment = quantity * self.emission_interval
        new_tat = (now if now > tat else tat) + increment
        allow_at = new_tat - self.delay_variation_tolerance
        diff = now - allow_at
        retry_after = -1
        if diff < 0:
            limited = True
            ttl = 0
            if increment <= self.delay_variation_tolerance:
                retry_after = -diff
                ttl = tat - now
        else:
            limited = False
            ttl = new_tat - now
            self.store.set(key, new_tat)
        nxt = self.delay_variation_tolerance - ttl
        ei = self.emission_interval
        # Go: int(next / ei) when next > -ei, else 0.  Go truncates toward zero, so every
        # negative next gives 0 (Python's ``//`` would floor -0.5 to -1).
        remaining = nxt // ei if nxt >= 0 else 0
        return Decision(limited, self.limit, remaining, ttl, retry_after)
