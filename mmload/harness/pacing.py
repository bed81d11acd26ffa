"""Offered rate as asked, whatever the response times: an absolute schedule per user.

The k-th request of a user is due at ``start + offset + k / rate``; a user that fell behind
(slow responses) sends at once until it is back on schedule, so the total offered rate holds.
Users are spread evenly over one interval by ``offset``, so they do not fire together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from mmload.defaults import LOGIN_PHASE
from mmload.harness.state import shared, state


def load_start(environment: object) -> float:
    """When the load phase starts: the origin of pacing, after the login phase.

    Logging in first matters: with Mattermost's default keying (by address), users that already
    hammer would drain the bucket the others need to log in.  A worker takes the master's
    start (sent with the spawn message's options), so every process's users share one schedule."""
    options = getattr(environment, "parsed_options", None)
    started = shared(options).started or state(environment).start or time.time()
    return started + LOGIN_PHASE


class Pacer:
    def __init__(
        self,
        rate_at: Callable[[float], float],  # this user's requests/s at t seconds after start
        start: float,
        slot: float,  # 0 <= slot < 1: this user's place within one interval
        clock: Callable[[], float] = time.time,
        step_seconds: float = math.inf,  # the rate only changes at multiples of this
    ) -> None:
        self.rate_at = rate_at
        self.start = start
        self.clock = clock
        self.step = step_seconds
        self.next_at = start + slot / rate_at(0.0)

    def first_delay(self) -> float:
        return max(0.0, self.next_at - self.clock())

    def next_delay(self) -> float:
        """Seconds to wait before the next request, moving the schedule on by one request's
        worth of rate: across a step, the part before it goes at the old rate."""
        work, t = 1.0, self.next_at - self.start
        while True:
            rate = self.rate_at(t)
            boundary = (math.floor(t / self.step) + 1) * self.step
            if t + work / rate <= boundary:
                t += work / rate
                break
            work -= (boundary - t) * rate
            t = boundary
        self.next_at = self.start + t
        return max(0.0, self.next_at - self.clock())


def phase_slot(number: int, users: int) -> float:
    """The place (0 <= slot < 1) within one interval of user ``number`` of ``users``: evenly
    spread, so users never fire together."""
    return (number % max(1, users)) / max(1, users)


def grid_slot(number: int, worker_index: int, workers: int, users: int) -> float:
    """A place for this worker's user ``number`` when the master's layout is unknown: unique
    among ``workers * ceil(users / workers)`` places (Locust gives each worker at most one user
    more than another), visited in golden-ratio steps so the few places left empty when users do
    not divide evenly are spread out rather than bunched at the end of the interval."""
    workers = max(1, workers)
    per_worker = max(1, math.ceil(users / workers))
    places = per_worker * workers
    place = (number % per_worker) * workers + worker_index % workers
    return place * _golden_step(places) % places / places


def _golden_step(n: int) -> int:
    target = max(1, round(n / GOLDEN))
    for d in range(n):
        for candidate in (target - d, target + d):
            if 0 < candidate < n and math.gcd(candidate, n) == 1:
                return candidate
    return 1


GOLDEN = (1 + 5**0.5) / 2


DEFAULT_STEP_SECONDS = 10.0  # a stepped scenario's steps when the run time is not known


def step_length(step_time: float | None, run_time: float | None, lead: float, count: int) -> float:
    """Seconds per step: ``--step-time``, or what the run has left after its login phase and
    ``lead``, shared out among ``count`` steps."""
    if step_time:
        return step_time
    rest = (run_time or 0) - LOGIN_PHASE - lead
    return rest / count if rest > 0 else DEFAULT_STEP_SECONDS


def steps(step_seconds: float, factors: tuple[float, ...]) -> Callable[[float], float]:
    """A factor that steps through ``factors``, ``step_seconds`` each, then stays at the last."""

    def factor_at(t: float) -> float:
        return factors[min(int(max(t, 0.0) // step_seconds), len(factors) - 1)]

    return factor_at
