"""The reference server's own memory over a run, sampled every :data:`EVERY` seconds, so that a
long run's report can show whether the server (its limiter's store first) grows: a limiter that
leaks is one that loosens or fails later."""

from __future__ import annotations

import os
import resource
import time

EVERY = 10.0  # seconds between samples
KEPT = 720  # samples at most (two hours at EVERY): past that, every other one is let go
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_mb() -> float:
    """This process's resident memory now (Linux), else the most it ever had, in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class Samples:
    """(UNIX time, resident MB) pairs, at most :data:`KEPT`, spread over the whole run."""

    def __init__(self) -> None:
        self.taken: list[tuple[float, float]] = []
        self.step = 1  # keep one sample in step (doubles whenever KEPT is reached)
        self._seen = 0

    def take(self, now: float | None = None) -> None:
        if self._seen % self.step == 0:
            self.taken.append((time.time() if now is None else now, round(resident_mb(), 1)))
            if len(self.taken) >= KEPT:
                self.taken = self.taken[::2]
                self.step *= 2
        self._seen += 1

    def as_json(self) -> list[list[float]]:
        return [[round(t, 3), mb] for t, mb in self.taken]
