"""Run totals by endpoint and status, and by rate-limit key: mergeable like the timeline."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from mmload.results.block import Block
from mmload.results.record import LIMITED, OUTCOMES, is_limited, outcome, outcome_codes

__all__ = ["OUTCOMES", "Tally", "is_login", "outcome_codes"]  # outcome_codes: the report's
_STATUSES = 10_000  # room for any three- (or four-) digit status in a combined code


def _pairs(first: np.ndarray, second: np.ndarray, width: int) -> list[tuple[int, int, int]]:
    """(first, second, count) for each distinct pair of values."""
    combined = first.astype(np.int64) * width + second.astype(np.int64)
    values, counts = np.unique(combined, return_counts=True)
    return [
        (v // width, v % width, n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)
    ]


def is_login(endpoint: str) -> bool:
    return endpoint.endswith("/users/login")


class Tally:
    """Counts by endpoint and status (exact whatever is a refusal), and by key and outcome, which
    ``limited`` (the run's refusal statuses) decides as records are added."""

    def __init__(self, limited: Collection[int] = LIMITED) -> None:
        self.limited = frozenset(limited)
        self.by_endpoint: dict[str, dict[int, int]] = {}  # endpoint -> status -> count
        self.by_key: dict[str, dict[str, int]] = {}  # key -> outcome -> count

    def add(self, block: Block) -> None:
        status = np.clip(block.numbers["status"], 0, _STATUSES - 1)
        endpoints, keys = block.tables["endpoint"], block.tables["key"]
        for e, s, n in _pairs(block.codes["endpoint"], status, _STATUSES):
            statuses = self.by_endpoint.setdefault(endpoints[e], {})
            statuses[s] = statuses.get(s, 0) + n
        for k, o, n in _pairs(
            block.codes["key"], outcome_codes(status, self.limited), len(OUTCOMES)
        ):
            counts = self.by_key.setdefault(keys[k], dict.fromkeys(OUTCOMES, 0))
            counts[OUTCOMES[o]] += n

    def merge(self, other: Tally) -> None:
        """Add another process's counts (their outcomes by key as ``other.limited`` decided:
        every process of a run is told the same)."""
        for endpoint, statuses in other.by_endpoint.items():
            mine = self.by_endpoint.setdefault(endpoint, {})
            for status, n in statuses.items():
                mine[status] = mine.get(status, 0) + n
        for key, outcomes in other.by_key.items():
            counts = self.by_key.setdefault(key, dict.fromkeys(OUTCOMES, 0))
            for name, n in outcomes.items():
                counts[name] = counts.get(name, 0) + n

    def totals(self, logins: bool = True) -> dict[str, int]:
        """Requests by outcome; ``logins=False`` leaves the login requests out."""
        counts = dict.fromkeys(("offered", *OUTCOMES), 0)
        for endpoint, statuses in self.by_endpoint.items():
            if not logins and is_login(endpoint):
                continue
            for status, n in statuses.items():
                counts["offered"] += n
                counts[outcome(status, self.limited)] += n
        return counts

    def logins(self) -> dict[str, int]:
        """Login requests: ``succeeded`` (200), ``limited`` (refused: 429 by default) and
        ``attempted`` (all)."""
        counts = dict.fromkeys(("succeeded", "limited", "attempted"), 0)
        for endpoint, statuses in self.by_endpoint.items():
            if is_login(endpoint):
                counts["succeeded"] += statuses.get(200, 0)
                counts["limited"] += sum(
                    n for s, n in statuses.items() if is_limited(s, self.limited)
                )
                counts["attempted"] += sum(statuses.values())
        return counts

    def login_refusals(self) -> list[int]:
        """The refusal statuses logins were answered with, in order."""
        return sorted(
            {
                s
                for endpoint, statuses in self.by_endpoint.items()
                if is_login(endpoint)
                for s, n in statuses.items()
                if n and is_limited(s, self.limited)
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_endpoint": {e: list(s.items()) for e, s in self.by_endpoint.items()},
            "by_key": self.by_key,
            "limited": sorted(self.limited),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tally:
        t = cls(d.get("limited") or LIMITED)
        t.by_endpoint = {
            e: {int(s): int(n) for s, n in pairs} for e, pairs in d["by_endpoint"].items()
        }
        t.by_key = {k: dict(v) for k, v in d["by_key"].items()}
        return t
