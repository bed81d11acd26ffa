"""The limiting side of a synthesized run (``synth``): the reference server's own
``RateLimiter`` (one per node, and per route that has a bucket of its own), several IETF
policies enforced together, and an nginx-like proxy in front, on virtual clocks.

``check`` answers ``(refused?, rate-limit headers)`` as the server would send them.  The clocks:
the clients' time ``t``; the server's ``t + skew`` (its Date, its epoch Resets); its limiter's
``t + skew + window_phase`` (where ``limits`` starts its windows).  ``limits`` reads ``time``
itself, so :func:`limits_clock` swaps its module for :class:`Clocks` while a run is simulated.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import limits.storage.memory
import limits.strategies

from mmload import dialects
from mmload.limiter.gcra import GCRA
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.limiter.store import LRUStore
from mmload.limiter.windows import WindowLimiter
from mmload.server.limiting import LimitSettings, RateLimiter
from tests.support.synth_clients import Client
from tests.support.synth_limiters import Later, Policies, QuirkyLimiter
from tests.support.synth_world import LOGIN, START
from tests.support.synth_world import Proxy as ProxySpec

if TYPE_CHECKING:
    from tests.support.synth import Plan

NGINX_ZONE = 10**6  # keys nginx's zone holds: never the bottleneck here


class Clocks:
    """Stands in for the ``time`` module inside ``limits``; ``set(t)`` moves every clock to the
    clients' ``t``."""

    def __init__(self, skew: float = 0.0, phase: float = 0.0) -> None:
        self.skew, self.phase = skew, phase
        self.server = self.now = START

    def set(self, t: float) -> None:
        self.server = t + self.skew
        self.now = self.server + self.phase

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def server_ns(self) -> int:
        return round(self.server * 1e9)


@contextmanager
def limits_clock(clocks: Clocks) -> Iterator[None]:
    saved = limits.storage.memory.time, limits.strategies.time
    limits.storage.memory.time, limits.strategies.time = clocks, clocks  # type: ignore[assignment]
    try:
        yield
    finally:
        limits.storage.memory.time, limits.strategies.time = saved


def keying(vary_by: str) -> Keying:
    if vary_by == "user":
        return Keying(vary_by_remote_addr=True, vary_by_user=True)
    if vary_by.startswith("header:"):  # as ``mmload run --server-vary-by header:NAME``
        return Keying(vary_by_remote_addr=True, vary_by_header=vary_by.split(":", 1)[1])
    return Keying(vary_by_remote_addr=vary_by == "address")


def key_parts(c: Client, endpoint: str, name: str) -> tuple[str, str | None, str | None]:
    """What the server keys a request on: its address, its token, the header it varies by."""
    token = None if endpoint == LOGIN else c.token
    return c.address, token, c.header(name, endpoint) if name else None


class Server:
    """The reference server's limiters: a bucket per key, per node of a round-robin cluster
    (``servers``), and per route when the plan gives routes buckets of their own."""

    def __init__(self, plan: Plan, clocks: Clocks) -> None:
        self.plan, self.clocks = plan, clocks
        self.keying = keying(plan.vary_by)
        self.name = self.keying.vary_by_header
        own = {r.endpoint: Rate(r.per_sec, r.burst) for r in plan.routes}
        self.routes = {"": self._nodes(Rate(plan.per_sec, plan.burst))}
        self.routes.update({e: self._nodes(rate) for e, rate in own.items()})
        self.turn = 0
        self.parts: dict[tuple[int, str], tuple[str, str | None, str | None]] = {}

    def _nodes(self, rate: Rate) -> list[RateLimiter]:
        p, clocks = self.plan, self.clocks
        settings = LimitSettings(
            rate=rate,
            keying=self.keying,
            algorithm=p.algorithm,
            dialect=p.dialect,
            faults=frozenset(p.faults),
            memory_store_size=p.store_size,
        )
        kind = QuirkyLimiter if p.quirks else RateLimiter
        nodes = [
            kind(settings, clock=clocks.server_ns, wall=lambda: clocks.server)
            for _ in range(p.servers)
        ]
        for node in nodes:
            if isinstance(node.algorithm, WindowLimiter):  # its windows are the limiter's clock's
                node.algorithm.clock = clocks.time
            if isinstance(node, QuirkyLimiter):
                node.quirks = frozenset(p.quirks)
        return nodes

    def _route(self, endpoint: str) -> list[RateLimiter]:
        nodes = self.routes.get(endpoint)
        if nodes is None:
            nodes = self.routes[""]
            if self.plan.per_route:  # every route a bucket of its own, at the general rate
                nodes = self.routes[endpoint] = self._nodes(
                    Rate(self.plan.per_sec, self.plan.burst)
                )
        return nodes

    def check(self, c: Client, endpoint: str) -> tuple[bool, dialects.Headers | Later]:
        nodes = self._route(endpoint)
        limiter = nodes[self.turn % len(nodes)]
        self.turn += 1
        parts = self.parts.get((c.number, endpoint))
        if parts is None:
            parts = self.parts[c.number, endpoint] = key_parts(c, endpoint, self.name)
        limited, headers = limiter.check(*parts)
        if self.plan.bucket_names and isinstance(headers, list):  # Discord: a hash per route
            route = endpoint if endpoint in self.routes else ""
            headers = [*headers, ("X-RateLimit-Bucket", f"{zlib.crc32(route.encode()):08x}")]
        return limited, headers

    def drain(self, clients: list[Client], n: int, until: float) -> None:
        """A previous run's last ``n`` requests on every bucket, ending at ``until``."""
        for nodes in list(self.routes.values()):
            for node in nodes:
                keys = {
                    node.keying.key(*key_parts(c, e, self.name))
                    for c in clients
                    for e in (LOGIN, "")
                }
                for key in sorted(keys):
                    for k in range(n):
                        self.clocks.set(until - (n - 1 - k) * 1e-3)
                        node.algorithm.hit(key)


class PolicyServer:
    """A server enforcing several IETF policies on every route (``Plan.policies``)."""

    def __init__(self, plan: Plan, clocks: Clocks) -> None:
        self.clocks = clocks
        self.keying = keying(plan.vary_by)
        self.name = self.keying.vary_by_header
        self.policies = Policies(
            plan.policies,
            plan.algorithm,
            plan.store_size,
            clocks.server_ns,
            clocks.time,
            plan.bucket_names,
            "policy-overstated" in plan.quirks,
        )

    def check(self, c: Client, endpoint: str) -> tuple[bool, dialects.Headers | Later]:
        return self.policies.check(self.keying.key(*key_parts(c, endpoint, self.name)))

    def drain(self, clients: list[Client], n: int, until: float) -> None:
        keys = {self.keying.key(*key_parts(c, e, self.name)) for c in clients for e in (LOGIN, "")}
        for key in sorted(keys):
            for k in range(n):
                self.clocks.set(until - (n - 1 - k) * 1e-3)
                self.policies.drain(key)


class Unlimited:
    """A server with rate limiting off (Mattermost's ``RateLimitSettings.Enable`` false)."""

    def check(self, c: Client, endpoint: str) -> tuple[bool, dialects.Headers | Later]:
        return False, []

    def drain(self, clients: list[Client], n: int, until: float) -> None:
        """Nothing to drain."""


class Proxy:
    """nginx's ``limit_req`` in front: a GCRA bucket per client address, on the server's clock."""

    def __init__(self, spec: ProxySpec, clocks: Clocks) -> None:
        self.status = spec.status
        self.clocks = clocks
        self.gcra = GCRA(spec.rate, LRUStore(NGINX_ZONE), clock=clocks.server_ns)

    def refuses(self, c: Client) -> bool:
        return self.gcra.hit(c.address).limited

    def drain(self, clients: list[Client], n: int, until: float) -> None:
        for address in sorted({c.address for c in clients}):
            for k in range(n):
                self.clocks.set(until - (n - 1 - k) * 1e-3)
                self.gcra.hit(address)


def server_of(plan: Plan, clocks: Clocks) -> Server | PolicyServer | Unlimited:
    if not plan.limiting:
        return Unlimited()
    return PolicyServer(plan, clocks) if plan.policies else Server(plan, clocks)
