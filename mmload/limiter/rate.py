"""The one rate value type: a sustained rate per second plus a burst allowance.

Shared by the reference server, the verdict and the plots.  ``Rate.parse("10/s", burst=100)``
reads the forms a user types (``10/s``, ``600/min``, ``10 per second``, ``36000/hour``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0,
    "h": 3600.0, "hour": 3600.0,
    "d": 86400.0, "day": 86400.0,
}  # fmt: skip
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*$", re.I)


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
        m = _RATE.match(text)
        unit = m and _UNITS.get(m.group(3).lower())
        if not m or unit is None:
            raise ValueError(f"cannot read {text!r} as a rate; write it like 10/s or 600/min")
        amount = float(m.group(1))
        multiple = float(m.group(2) or 1)
        return cls(amount / (multiple * unit), burst)

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
