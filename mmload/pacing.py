"""Offered rate as asked, whatever the response times: an absolute schedule per user.

The k-th request of a user is due at ``start + offset + k / rate``; a user that fell behind
(slow responses) sends at once until it is back on schedule, so the total offered rate holds.
Users are spread evenly over one interval by ``offset``, so they do not fire together.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    def __init__(
        self,
        rate_at: Callable[[float], float],  # this user's requests/s at t seconds after start
        start: float,
        slot: float,  # 0 <= slot < 1: this user's place within one interval
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_at = rate_at
        self.start = start
        self.clock = clock
        self.next_at = start + slot / rate_at(0.0)

    def first_delay(self) -> float:
        return max(0.0, self.next_at - self.clock())

    def next_delay(self) -> float:
        """Seconds to wait before the next request, moving the schedule on by one."""
        self.next_at += 1.0 / self.rate_at(self.next_at - self.start)
        return max(0.0, self.next_at - self.clock())


def steps(step_seconds: float, factors: tuple[float, ...]) -> Callable[[float], float]:
    """A factor that steps through ``factors``, ``step_seconds`` each, then stays at the last."""

    def factor_at(t: float) -> float:
        return factors[min(int(max(t, 0.0) // step_seconds), len(factors) - 1)]

    return factor_at
