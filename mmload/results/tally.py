"""Run totals by endpoint and status, and by rate-limit key: mergeable like the timeline."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmload.results.block import Block
from mmload.results.record import outcome

OUTCOMES = ("accepted", "limited", "error")
_STATUSES = 10_000  # room for any three- (or four-) digit status in a combined code


def outcome_codes(status: np.ndarray) -> np.ndarray:
    """0 accepted, 1 limited, 2 error: :func:`mmload.results.record.outcome` for a column."""
    codes = np.full(len(status), 2, dtype=np.int64)
    codes[(status > 0) & (status < 400)] = 0
    codes[status == 429] = 1
    return codes


def _pairs(first: np.ndarray, second: np.ndarray, width: int) -> list[tuple[int, int, int]]:
    """(first, second, count) for each distinct pair of values."""
    combined = first.astype(np.int64) * width + second.astype(np.int64)
    values, counts = np.unique(combined, return_counts=True)
    return [(v // width, v % width, n) for v, n in zip(values.tolist(), counts.tolist())]


def is_login(endpoint: str) -> bool:
    return endpoint.endswith("/users/login")


class Tally:
    def __init__(self) -> None:
        self.by_endpoint: dict[str, dict[int, int]] = {}  # endpoint -> status -> count
        self.by_key: dict[str, dict[str, int]] = {}  # key -> outcome -> count

    def add(self, block: Block) -> None:
        status = np.clip(block.numbers["status"], 0, _STATUSES - 1)
        endpoints, keys = block.tables["endpoint"], block.tables["key"]
        for e, s, n in _pairs(block.codes["endpoint"], status, _STATUSES):
            statuses = self.by_endpoint.setdefault(endpoints[e], {})
            statuses[s] = statuses.get(s, 0) + n
        for k, o, n in _pairs(block.codes["key"], outcome_codes(status), len(OUTCOMES)):
            counts = self.by_key.setdefault(keys[k], dict.fromkeys(OUTCOMES, 0))
            counts[OUTCOMES[o]] += n

    def merge(self, other: Tally) -> None:
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
                counts[outcome(status)] += n
        return counts

    def logins(self) -> dict[str, int]:
        """Login requests: ``succeeded`` (200), ``limited`` (429) and ``attempted`` (all)."""
        counts = dict.fromkeys(("succeeded", "limited", "attempted"), 0)
        for endpoint, statuses in self.by_endpoint.items():
            if is_login(endpoint):
                counts["succeeded"] += statuses.get(200, 0)
                counts["limited"] += statuses.get(429, 0)
                counts["attempted"] += sum(statuses.values())
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "by_endpoint": {e: list(s.items()) for e, s in self.by_endpoint.items()},
            "by_key": self.by_key,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tally:
        t = cls()
        t.by_endpoint = {
            e: {int(s): int(n) for s, n in pairs} for e, pairs in d["by_endpoint"].items()
        }
        t.by_key = {k: dict(v) for k, v in d["by_key"].items()}
        return t
