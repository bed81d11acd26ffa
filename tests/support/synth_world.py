"""What surrounds the limiter in a synthesized run (``synth``): the network's delays, the
server's workers, its failures, a proxy in front, routes and IETF policies; and the truth a test
holds a verdict to (:func:`enforced`).  Plain values: the engine (``synth_engine``) reads
them, every default is the synthesizer's first behaviour (1 ms answers decided at send time).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

from mmload.limiter.rate import Rate
from mmload.limiter.windows import window_limit, window_seconds

if TYPE_CHECKING:
    from tests.support.synth import Plan

ME = "GET /api/v4/users/me"
LOGIN = "POST /api/v4/users/login"
POSTS = "GET /api/v4/channels/{channel_id}/posts"
CREATE_POST = "POST /api/v4/posts"
VIEW = "POST /api/v4/channels/members/me/view"
TEAMS = "GET /api/v4/users/me/teams"
START = 1_800_000_000.0  # the load phase starts here (UNIX time)
LATENCY_MS = 1.0
Z99 = NormalDist().inv_cdf(0.99)


@dataclass(frozen=True)
class Leg:
    """A delay in milliseconds: ``ms`` always, or, with ``p99_ms``, ``floor_ms`` plus a
    lognormal whose median is ``ms - floor_ms`` and 99th percentile ``p99_ms - floor_ms``; a
    share ``tail`` of draws is ``tail_ms`` (uniform between the two) longer on top."""

    ms: float = 0.0
    p99_ms: float | None = None
    floor_ms: float = 0.0
    tail: float = 0.0
    tail_ms: tuple[float, float] = (200.0, 2000.0)

    def __post_init__(self) -> None:
        if self.p99_ms is not None and not self.floor_ms < self.ms <= self.p99_ms:
            raise ValueError(f"a lognormal leg needs floor < median <= p99, not {self}")

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """Draws of this leg from ``rng``, its constants worked out once (a run draws two legs
        per request)."""
        ms, floor, tail = self.ms, self.floor_ms, self.tail
        if self.p99_ms is None and not tail:
            return lambda: ms
        low, high = self.tail_ms
        random_, uniform, gauss, exp = rng.random, rng.uniform, rng.gauss, math.exp
        if self.p99_ms is None:

            def tailed() -> float:
                return ms + uniform(low, high) if random_() < tail else ms

            return tailed
        median = ms - floor
        sigma = math.log((self.p99_ms - floor) / median) / Z99
        if not tail:
            return lambda: floor + median * exp(sigma * gauss(0.0, 1.0))

        def lognormal() -> float:
            drawn = floor + median * exp(sigma * gauss(0.0, 1.0))
            return drawn + uniform(low, high) if random_() < tail else drawn

        return lognormal


@dataclass(frozen=True)
class Network:
    """The two legs of a round trip, drawn independently: client to the front (the proxy, or
    the server) and back.  A proxy and its server sit together: no delay between them."""

    up: Leg = Leg(0.0)
    down: Leg = Leg(LATENCY_MS)


@dataclass(frozen=True)
class Service:
    """The server's workers: each serves one request at a time for ``ms``; a request waits in
    a FIFO queue for a free one, and its limiter decides when a worker takes it up.  ``workers``
    0: as many as there are requests (no queue)."""

    workers: int = 0
    ms: Leg = Leg(0.0)


@dataclass(frozen=True)
class Failures:
    """Admitted requests that fail in the application (``share`` of them, a status drawn from
    ``statuses``; a 500 is the server's own, with its rate-limit headers and body ``body``, a
    502/503 a proxy's page without them), and an outage: ``outage`` (start seconds after the
    load's start, length) during which every request gets ``outage_status`` (0: the connection
    is refused) without reaching any limiter."""

    share: float = 0.0
    statuses: tuple[int, ...] = (500, 502)
    body: str = "apperror"
    outage: tuple[float, float] | None = None
    outage_status: int = 503


@dataclass(frozen=True)
class Proxy:
    """nginx's ``limit_req zone=... rate=<per_sec>r/s burst=<burst> nodelay`` keyed by the client
    address (``$binary_remote_addr``): a leaky bucket (GCRA) that refuses with ``status``
    (``limit_req_status``, 503 by default) and its own HTML page, no rate-limit header, no
    Retry-After.  What it refuses never reaches the server."""

    per_sec: float
    burst: int
    status: int = 503

    @property
    def rate(self) -> Rate:
        return Rate(self.per_sec, self.burst)


@dataclass(frozen=True)
class Route:
    """A route the server gives a bucket and a rate of its own."""

    endpoint: str
    per_sec: float
    burst: int


@dataclass(frozen=True)
class Policy:
    """An IETF policy the server enforces and advertises: ``quota`` per ``window`` seconds, as
    ``"name";q=quota;w=window``.  GCRA: ``quota / window`` per second with room for ``quota``;
    the window algorithms: a window of ``window`` seconds holding ``quota``."""

    name: str
    quota: int
    window: int

    @property
    def rate(self) -> Rate:
        return Rate(self.quota / self.window, self.quota - 1)


QUIRKS = {
    "charge-refused": "refused requests cost like admitted ones (GCRA): a client that keeps "
    "sending is never let through",
    "retry-after-truncated": "Retry-After = int(seconds to wait), toward zero (Flask-Limiter "
    "4.x): 0 in a window's last second",
    "headers-after": "Remaining and Reset read after the response is served (Flask-Limiter's "
    "after_request): a refusal at a window's end shows the next window",
    "policy-overstated": "IETF policies: every policy but the tightest says r = q + 1 (more left "
    "than its quota), invisible in the binding one",
}


def enforced(plan: Plan, endpoint: str = ME) -> tuple[float, int] | None:
    """(requests per second, requests at once) one key's requests to ``endpoint`` are held to in
    the long run: the server's bucket (its route's when it has one; the tightest policy; a
    round-robin cluster multiplies both by its nodes) or the proxy's, whichever is tighter;
    None when nothing limits them."""
    found = [] if plan.proxy is None else [(plan.proxy.per_sec, plan.proxy.burst + 1)]
    server = _server(plan, endpoint)
    if server is not None:
        found.append(server)
    return min(found) if found else None


def _server(plan: Plan, endpoint: str) -> tuple[float, int] | None:
    if not plan.limiting or "no-enforcement" in plan.faults:
        return None
    if plan.policies:
        per_sec, capacity = _binding(plan)
    else:
        own = {r.endpoint: Rate(r.per_sec, r.burst) for r in plan.routes}
        rate = own.get(endpoint, Rate(plan.per_sec, plan.burst))
        if "lax" in plan.faults:
            rate = Rate(rate.per_sec * 2, rate.burst)
        per_sec, capacity = _one(plan.algorithm, rate)
    return per_sec * plan.servers, capacity * plan.servers


def _binding(plan: Plan) -> tuple[float, int]:
    """Several policies: the rate of the one that holds a saturating client back at the end of
    the run (the least of quota + rate x seconds), and the least quota."""
    held = [
        _one(plan.algorithm, p.rate) if plan.algorithm == "gcra" else (p.quota / p.window, p.quota)
        for p in plan.policies
    ]
    per_sec, _ = min(held, key=lambda h: h[1] + h[0] * plan.seconds)
    return per_sec, min(c for _, c in held)


def _one(algorithm: str, rate: Rate) -> tuple[float, int]:
    if algorithm == "gcra":
        return rate.per_sec, rate.capacity
    return window_limit(rate) / window_seconds(rate), window_limit(rate)
