"""Mattermost's ``RateLimitSettings`` wired into one object the HTTP layer asks per request."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mmload import defaults, dialects
from mmload.limiter import faults
from mmload.limiter.gcra import GCRA
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.limiter.store import LRUStore
from mmload.limiter.windows import STRATEGIES, WindowLimiter, window_limit, window_seconds

ALGORITHMS = ("gcra", *STRATEGIES)


@dataclass(frozen=True)
class LimitSettings:
    enabled: bool = True
    rate: Rate = field(default_factory=lambda: Rate(defaults.PER_SEC, defaults.MAX_BURST))
    memory_store_size: int = defaults.MEMORY_STORE_SIZE
    keying: Keying = field(default_factory=Keying)
    algorithm: str = defaults.ALGORITHM
    dialect: str = defaults.DIALECT
    faults: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose from {ALGORITHMS}")
        if self.dialect not in dialects.DIALECTS:
            raise ValueError(f"unknown dialect {self.dialect!r}; choose from {dialects.DIALECTS}")
        if self.memory_store_size < 1:
            raise ValueError("--memory-store-size must be at least 1")
        faults.check_names(self.faults)


class RateLimiter:
    """``check(...)`` → (refuse?, headers to send), counting what it admitted and refused."""

    def __init__(
        self,
        settings: LimitSettings,
        clock: Callable[[], int] = time.monotonic_ns,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.faults = settings.faults
        self.dialect = settings.dialect
        self.wall = wall
        enforced = settings.rate
        if "lax" in settings.faults:
            enforced = Rate(enforced.per_sec * 2, enforced.burst)
        self.algorithm: GCRA | WindowLimiter
        if settings.algorithm == "gcra":
            self.algorithm = GCRA(enforced, LRUStore(settings.memory_store_size), clock)
            self.window_s = math.ceil(settings.rate.capacity / settings.rate.per_sec)
        else:
            self.algorithm = WindowLimiter(
                enforced, settings.algorithm, settings.memory_store_size, clock=wall
            )
            self.window_s = window_seconds(settings.rate)
        self.advertised_limit = (
            settings.rate.capacity if settings.algorithm == "gcra" else window_limit(settings.rate)
        )
        shared = "shared-bucket" in settings.faults
        self.keying = Keying(vary_by_remote_addr=False) if shared else settings.keying
        self.accepted = 0
        self.refused = 0

    def check(
        self, remote_addr: str, token: str | None, header_value: str | None
    ) -> tuple[bool, dialects.Headers]:
        key = self.keying.key(remote_addr, token, header_value)
        decision = self.algorithm.hit(key)
        decision.limit = self.advertised_limit
        shown = faults.advertise(decision, self.faults) if self.faults else decision
        limited = decision.limited and "no-enforcement" not in self.faults
        if limited:
            self.refused += 1
        else:
            self.accepted += 1
        if shown is None:
            return limited, []
        return limited, dialects.render(self.dialect, shown, self.wall(), self.window_s)
