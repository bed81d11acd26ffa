"""Mattermost's ``RateLimitSettings`` wired into one object the HTTP layer asks per request."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from mmload import defaults, dialects
from mmload.limiter import algorithms, faults
from mmload.limiter.algorithms import ALGORITHMS as ALGORITHMS
from mmload.limiter.algorithms import Limiter
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate


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
        algorithms.algorithm(self.algorithm)  # ValueError naming the choices
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
        kind = algorithms.algorithm(settings.algorithm)
        self.algorithm: Limiter = kind.build(enforced, settings.memory_store_size, clock, wall)
        self.window_s = kind.window_s(settings.rate)
        self.advertised_limit = kind.limit(settings.rate)  # the documented rate's, when lax
        shared = "shared-bucket" in settings.faults
        self.keying = (
            replace(
                settings.keying, vary_by_remote_addr=False, vary_by_user=False, vary_by_header=""
            )
            if shared
            else settings.keying
        )
        self.accepted = 0
        self.refused = 0

    def check(
        self,
        remote_addr: str,
        token: str | None,
        header_value: str | None,
        path: str = "",
        forwarded_for: str | None = None,
    ) -> tuple[bool, dialects.Headers]:
        key = self.keying.key(remote_addr, token, header_value, path, forwarded_for)
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
