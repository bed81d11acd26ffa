"""Window limiters from the ``limits`` library, so the harness can be proven on other families.

A window of ``round(1 + burst / per_sec)`` seconds holds ``per_sec * window`` requests: the same
sustained rate as GCRA and a comparable burst.  With ``burst=0`` it is a one-second window of
``per_sec`` requests: the 2015 Mattermost limiter (throttled v1).  Like GCRA, the limiters remember
at most ``memory_store_size`` keys (:mod:`mmload.limiter.window_store`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from mmload import defaults
from mmload.limiter.decision import NS, Decision
from mmload.limiter.rate import Rate
from mmload.limiter.window_store import LRUMemoryStorage

STRATEGIES: dict[str, type[RateLimiter]] = {
    "fixed-window": FixedWindowRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "sliding-window": SlidingWindowCounterRateLimiter,
}


def window_seconds(rate: Rate) -> int:
    return max(1, round(1 + rate.burst / rate.per_sec))


def window_limit(rate: Rate) -> int:
    return max(1, math.floor(rate.per_sec * window_seconds(rate)))


class WindowLimiter:
    """``hit(key)`` like :class:`mmload.limiter.gcra.GCRA`, backed by a ``limits`` strategy.

    ``clock`` (epoch seconds) turns the strategy's reset time into a delay.  ``limits`` reads
    ``time.time()`` itself, so the clock must agree with it: a test that fakes one fakes both.
    """

    def __init__(
        self,
        rate: Rate,
        algorithm: str,
        memory_store_size: int = defaults.MEMORY_STORE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = window_limit(rate)
        self.item = RateLimitItemPerSecond(self.limit, window_seconds(rate))
        self.storage = LRUMemoryStorage(memory_store_size)
        self.strategy = STRATEGIES[algorithm](self.storage)
        self.clock = clock

    def hit(self, key: str) -> Decision:
        allowed = self.strategy.hit(self.item, key)
        stats = self.strategy.get_window_stats(self.item, key)
        until_reset = max(0, int((stats.reset_time - self.clock()) * NS))
        retry_after = -1 if allowed else until_reset
        return Decision(not allowed, self.limit, max(0, stats.remaining), until_reset, retry_after)
