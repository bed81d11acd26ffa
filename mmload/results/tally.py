"""Run totals by endpoint and status, and by rate-limit key: mergeable like the timeline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mmload.results.record import Record, outcome

OUTCOMES = ("accepted", "limited", "error")


class Tally:
    def __init__(self) -> None:
        self.by_endpoint: dict[str, dict[int, int]] = {}  # endpoint -> status -> count
        self.by_key: dict[str, dict[str, int]] = {}  # key -> outcome -> count

    def add(self, records: Iterable[Record]) -> None:
        by_endpoint, by_key = self.by_endpoint, self.by_key
        for r in records:
            statuses = by_endpoint.get(r.endpoint)
            if statuses is None:
                statuses = by_endpoint[r.endpoint] = {}
            statuses[r.status] = statuses.get(r.status, 0) + 1
            outcomes = by_key.get(r.key)
            if outcomes is None:
                outcomes = by_key[r.key] = dict.fromkeys(OUTCOMES, 0)
            outcomes[outcome(r.status)] += 1

    def merge(self, other: Tally) -> None:
        for endpoint, statuses in other.by_endpoint.items():
            mine = self.by_endpoint.setdefault(endpoint, {})
            for status, n in statuses.items():
                mine[status] = mine.get(status, 0) + n
        for key, outcomes in other.by_key.items():
            counts = self.by_key.setdefault(key, dict.fromkeys(OUTCOMES, 0))
            for name, n in outcomes.items():
                counts[name] = counts.get(name, 0) + n

    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(("offered", *OUTCOMES), 0)
        for statuses in self.by_endpoint.values():
            for status, n in statuses.items():
                counts["offered"] += n
                counts[outcome(status)] += n
        return counts

    def logins(self) -> tuple[int, int]:
        """(succeeded, attempted) logins, from the login endpoints' statuses (429s not counted)."""
        ok = attempted = 0
        for endpoint, statuses in self.by_endpoint.items():
            if endpoint.endswith("/users/login"):
                ok += statuses.get(200, 0)
                attempted += sum(n for s, n in statuses.items() if s != 429)
        return ok, attempted

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
