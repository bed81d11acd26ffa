"""Limiters real servers run that the reference server does not (``synth``): the reference
``RateLimiter`` with a quirk of Flask-Limiter or of a naive GCRA (``QuirkyLimiter``), and several
IETF policies enforced together (``Policies``).  Built from mmload's own GCRA and ``limits``
strategies, on the synthesizer's clocks (``tests.support.synth_server.Clocks``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import NamedTuple

import http_sfv
from limits import RateLimitItemPerSecond

from mmload import dialects
from mmload.limiter import faults
from mmload.limiter.decision import NS, Decision, ceil_seconds
from mmload.limiter.gcra import GCRA
from mmload.limiter.rate import Rate
from mmload.limiter.store import LRUStore
from mmload.limiter.windows import WindowLimiter
from mmload.server.limiting import RateLimiter
from tests.support.synth_world import Policy


class Later(NamedTuple):
    """Headers a limiter renders only once the answer leaves: ``QuirkyLimiter.leave``."""

    limiter: QuirkyLimiter
    key: str
    decision: Decision


class QuirkyLimiter(RateLimiter):
    """The reference limiter with ``quirks`` (tests.support.synth_world.QUIRKS).  With
    ``headers-after``, ``check`` answers ``Later`` for the headers: the engine asks ``leave``
    for them when the answer leaves, with every decision taken meanwhile counted."""

    quirks: frozenset[str] = frozenset()

    def check(  # type: ignore[override]
        self, remote_addr: str, token: str | None, header_value: str | None
    ) -> tuple[bool, dialects.Headers | Later]:
        key = self.keying.key(remote_addr, token, header_value)
        decision = self._hit(key)
        decision.limit = self.advertised_limit
        limited = decision.limited and "no-enforcement" not in self.faults
        if "headers-after" in self.quirks:
            return limited, Later(self, key, decision)
        return limited, self._render(decision)

    def leave(self, key: str, decision: Decision) -> dialects.Headers:
        """The headers as Flask-Limiter's after_request reads them: the window as it stands
        now (Retry-After included), not as it stood at the decision."""
        window = self.algorithm
        if not isinstance(window, WindowLimiter):
            raise ValueError("headers-after is a window quirk")
        stats = window.strategy.get_window_stats(window.item, key)
        until = max(0, int((stats.reset_time - window.clock()) * NS))
        retry = until if decision.limited else -1
        now = Decision(decision.limited, decision.limit, max(0, stats.remaining), until, retry)
        return self._render(now)

    def _render(self, decision: Decision) -> dialects.Headers:
        if "retry-after-truncated" in self.quirks and decision.retry_after_ns >= 0:
            decision.retry_after_ns = decision.retry_after_ns // NS * NS  # int(), not ceil
        shown = faults.advertise(decision, self.faults) if self.faults else decision
        if shown is None:
            return []
        return dialects.render(self.dialect, shown, self.wall(), self.window_s)

    def _hit(self, key: str) -> Decision:
        algorithm = self.algorithm
        if "charge-refused" not in self.quirks:
            return algorithm.hit(key)
        if not isinstance(algorithm, GCRA):
            raise ValueError("charge-refused is a GCRA quirk")
        stored = algorithm.store.get(key)
        decision = algorithm.hit(key)
        if decision.limited:  # counted all the same: the bucket's debt grows
            now = algorithm.clock()
            tat = now if stored is None else max(stored, now)
            algorithm.store.set(key, tat + algorithm.emission_interval)
        return decision


class _GcraPolicy:
    def __init__(self, policy: Policy, size: int, clock: Callable[[], int]) -> None:
        self.gcra = GCRA(policy.rate, LRUStore(size), clock)

    def state(self, key: str) -> Decision:
        """throttled's answer for one more request, without counting it."""
        g = self.gcra
        now = g.clock()
        stored = g.store.get(key)
        tat = now if stored is None else max(stored, now)
        diff = now - (tat + g.emission_interval - g.delay_variation_tolerance)
        ttl = tat - now
        nxt = g.delay_variation_tolerance - ttl
        remaining = nxt // g.emission_interval if nxt >= 0 else 0
        return Decision(diff < 0, g.limit, remaining, ttl, -diff if diff < 0 else -1)

    def hit(self, key: str) -> Decision:
        return self.gcra.hit(key)


class _WindowPolicy:
    def __init__(
        self, policy: Policy, algorithm: str, size: int, clock: Callable[[], float]
    ) -> None:
        self.window = WindowLimiter(Rate(1), algorithm, size, clock)
        self.window.limit = policy.quota
        self.window.item = RateLimitItemPerSecond(policy.quota, policy.window)

    def state(self, key: str) -> Decision:
        w = self.window
        admits = w.strategy.test(w.item, key)
        stats = w.strategy.get_window_stats(w.item, key)
        until = max(0, int((stats.reset_time - w.clock()) * NS))
        return Decision(
            not admits, w.limit, max(0, stats.remaining), until, -1 if admits else until
        )

    def hit(self, key: str) -> Decision:
        return self.window.hit(key)


class Policies:
    """Several IETF policies, each a bucket of its own per key: a request is admitted only when
    every policy has room, and then counts against each; a refusal counts against none.  Every
    answer lists every policy (``RateLimit-Policy`` and ``RateLimit``, draft 8+)."""

    def __init__(
        self,
        policies: tuple[Policy, ...],
        algorithm: str,
        size: int,
        gcra_clock: Callable[[], int],
        window_clock: Callable[[], float],
        partition_keys: bool = False,  # each RateLimit item names its key's partition (pk)
        overstated: bool = False,  # all but the tightest policy say r = q + 1
    ) -> None:
        self.names = [p.name for p in policies]
        self.quotas = [p.quota for p in policies]
        self.partition_keys, self.overstated = partition_keys, overstated
        self.buckets: list[_GcraPolicy | _WindowPolicy] = [
            _GcraPolicy(p, size, gcra_clock)
            if algorithm == "gcra"
            else _WindowPolicy(p, algorithm, size, window_clock)
            for p in policies
        ]
        declared = http_sfv.List()
        for p in policies:
            item = http_sfv.Item(p.name)
            item.params["q"], item.params["w"] = p.quota, p.window
            declared.append(item)
        self.policy = str(declared)

    def check(self, key: str) -> tuple[bool, dialects.Headers]:
        states = [b.state(key) for b in self.buckets]
        limited = any(s.limited for s in states)
        if not limited:
            states = [b.hit(key) for b in self.buckets]
        answer = http_sfv.List()
        tightest = min(range(len(states)), key=lambda i: states[i].remaining)
        for i, (name, s) in enumerate(zip(self.names, states, strict=True)):
            item = http_sfv.Item(name)
            left = self.quotas[i] + 1 if self.overstated and i != tightest else s.remaining
            item.params["r"], item.params["t"] = left, ceil_seconds(s.reset_after_ns)
            if self.partition_keys:
                item.params["pk"] = hashlib.sha256(key.encode()).digest()[:8]
            answer.append(item)
        headers = [("RateLimit-Policy", self.policy), ("RateLimit", str(answer))]
        if limited:
            wait = max(s.retry_after_ns for s in states if s.limited)
            headers.append(("Retry-After", str(ceil_seconds(wait))))
        return limited, headers

    def drain(self, key: str) -> None:
        for b in self.buckets:
            b.hit(key)
