"""The one rate value type: a sustained rate per second plus a burst allowance.

Shared by the reference server, the verdict and the plots.  ``Rate.parse("10/s", burst=100)``
reads the forms a user types (``10/s``, ``600/min``, ``10 per second``, ``36000/hour``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mmload import defaults

# Exactly the spellings users write: a regex with an optional plural ``s`` also read ``10/ms`` as
# 10 per minute and accepted ``10/hs``, so every accepted unit is listed.
_SECONDS = {"s", "sec", "secs", "second", "seconds"}
_MINUTES = {"m", "min", "mins", "minute", "minutes"}
_HOURS = {"h", "hr", "hrs", "hour", "hours"}
_DAYS = {"d", "day", "days"}
_UNITS = {
    **dict.fromkeys(_SECONDS, 1.0),
    **dict.fromkeys(_MINUTES, 60.0),
    **dict.fromkeys(_HOURS, 3600.0),
    **dict.fromkeys(_DAYS, 86400.0),
}
_NUMBER = r"\d+(?:\.\d+)?"  # no sign, no exponent: 1e3/s is refused, not misread
_RATE = re.compile(rf"^\s*({_NUMBER})\s*(?:/|per)\s*({_NUMBER})?\s*([a-z]+)\s*$", re.I | re.A)
_EXAMPLE = "write it like 10/s or 600/min"


@dataclass(frozen=True)
class Rate:
    """``per_sec`` requests per second sustained, ``burst`` more allowed at once (Mattermost's
    MaxBurst: a fresh bucket admits ``burst + 1`` requests instantly)."""

    per_sec: float
    burst: int = 0

    def __post_init__(self) -> None:
        if not (self.per_sec > 0 and math.isfinite(self.per_sec)):
            raise ValueError(f"a rate must be positive, not {self.per_sec!r}")
        if self.burst < 0:
            raise ValueError(f"a burst cannot be negative, not {self.burst!r}")

    @classmethod
    def parse(cls, text: str, burst: int = 0) -> Rate:
        """``10/s``, ``600/min``, ``10 per second``, ``100 per 2 hours``; a ValueError otherwise."""
        m = _RATE.match(text)
        unit = _UNITS.get(m.group(3).lower()) if m else None
        if m is None or unit is None:
            raise ValueError(f"cannot read {text!r} as a rate; {_EXAMPLE}")
        window = float(m.group(2) or 1) * unit
        per_sec = float(m.group(1)) / window if window else 0.0
        if not (per_sec > 0 and math.isfinite(per_sec)):
            raise ValueError(f"cannot read {text!r} as a positive, finite rate; {_EXAMPLE}")
        return cls(per_sec, burst)

    @property
    def capacity(self) -> int:
        """Requests a fresh bucket admits at one instant (throttled's ``Limit``)."""
        return self.burst + 1

    def max_accepted(self, seconds: float) -> float:
        """Most requests a conforming GCRA limiter accepts in any interval of ``seconds``."""
        return self.capacity + self.per_sec * seconds

    def __str__(self) -> str:
        rate = f"{self.per_sec:g}/s"
        return f"{rate} burst {self.burst}" if self.burst else rate


_ROUTE = re.compile(r"^\s*([A-Za-z]+)\s+(/\S*)\s*=\s*(.+)$", re.A)
_ROUTE_EXAMPLE = "write it like 'POST /api/v4/users/login=10/min'"


@dataclass(frozen=True)
class RouteLimit:
    """A route documented with a limit of its own: its requests have a bucket of their own."""

    endpoint: str  # "POST /api/v4/users/login", as records name endpoints
    per_sec: float
    burst: int | None = None

    @classmethod
    def parse(cls, text: str) -> RouteLimit:
        """``METHOD /path=RATE``; a ValueError otherwise."""
        m = _ROUTE.match(text)
        if m is None:
            raise ValueError(f"cannot read {text!r} as a route's limit; {_ROUTE_EXAMPLE}")
        method, path, rate = m.groups()
        return cls(f"{method.upper()} {path}", Rate.parse(rate).per_sec)

    def __str__(self) -> str:
        return f"{self.endpoint}={self.per_sec:g}/s"


def is_route_limit(text: str) -> bool:
    """Whether ``--documented-limit`` was given a route's limit (``METHOD /path=RATE``)."""
    return "=" in text


@dataclass(frozen=True)
class Documented:
    """What the documentation promises: a sustained rate and, when it says so, a burst
    (Mattermost's MaxBurst: a fresh bucket admits ``burst + 1`` at once); ``routes`` that have
    limits (and buckets) of their own.

    Saying nothing means Mattermost's documented defaults, 10/s with a burst of 100; a rate
    alone documents no burst, so nothing can be checked against one."""

    per_sec: float
    burst: int | None = None
    routes: tuple[RouteLimit, ...] = ()

    @classmethod
    def resolve(
        cls, limit: str | None = None, burst: int | None = None, routes: tuple[str, ...] = ()
    ) -> Documented:
        own = tuple(RouteLimit.parse(r) for r in routes)
        if limit is None:
            default = Rate.parse(defaults.DOCUMENTED_LIMIT)
            return cls(default.per_sec, defaults.MAX_BURST if burst is None else burst, own)
        return cls(Rate.parse(limit).per_sec, burst, own)

    def for_endpoint(self, endpoint: str) -> Documented:
        """The limit one route's requests are held to: its own, or the general one."""
        for route in self.routes:
            if route.endpoint == endpoint:
                return Documented(route.per_sec, route.burst)
        return Documented(self.per_sec, self.burst) if self.routes else self

    @property
    def capacity(self) -> int | None:
        """Requests a fresh bucket admits at once, when the burst is documented."""
        return None if self.burst is None else self.burst + 1

    def to_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"per_sec": self.per_sec, "burst": self.burst}
        if self.routes:
            found["routes"] = [
                {"endpoint": r.endpoint, "per_sec": r.per_sec, "burst": r.burst}
                for r in self.routes
            ]
        return found

    def __str__(self) -> str:
        rate = f"{self.per_sec:g}/s"
        return rate if self.burst is None else f"{rate} burst {self.burst}"
