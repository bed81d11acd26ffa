"""The rate-limiting algorithms by name, as ``limits`` keeps its strategies: each builds a
:class:`Limiter` for a rate and says what it advertises.  The reference server builds its
limiter from here (:mod:`mmload.server.limiting`), and the verdict replays the same names
(:mod:`mmload.verdict.replay`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mmload.limiter.decision import Decision
from mmload.limiter.gcra import GCRA
from mmload.limiter.rate import Rate
from mmload.limiter.store import LRUStore
from mmload.limiter.windows import STRATEGIES, WindowLimiter, window_limit, window_seconds


class Limiter(Protocol):
    """Admits or refuses one request of a key, and says what a fresh key is allowed."""

    limit: int  # the quota it advertises: GCRA's burst capacity, a window's requests

    def hit(self, key: str) -> Decision: ...


Build = Callable[[Rate, int, Callable[[], int], Callable[[], float]], Limiter]


@dataclass(frozen=True)
class Algorithm:
    name: str
    # (rate, keys remembered, monotonic clock in ns, wall clock in s) -> a limiter
    build: Build
    window_s: Callable[[Rate], int]  # the seconds its quota is for (the IETF ``w``)
    limit: Callable[[Rate], int]  # the quota it advertises for a rate


def _gcra(rate: Rate, size: int, clock: Callable[[], int], wall: Callable[[], float]) -> Limiter:
    return GCRA(rate, LRUStore(size), clock)


def _window(name: str) -> Build:
    def build(
        rate: Rate, size: int, clock: Callable[[], int], wall: Callable[[], float]
    ) -> Limiter:
        return WindowLimiter(rate, name, size, clock=wall)  # ``limits`` reads the wall clock

    return build


REGISTRY: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("gcra", _gcra, lambda r: math.ceil(r.capacity / r.per_sec), lambda r: r.capacity),
        *(Algorithm(n, _window(n), window_seconds, window_limit) for n in STRATEGIES),
    )
}
ALGORITHMS = tuple(REGISTRY)


def algorithm(name: str) -> Algorithm:
    """The algorithm called ``name``; ValueError naming the choices otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown algorithm {name!r}; choose from {ALGORITHMS}")
    return REGISTRY[name]
