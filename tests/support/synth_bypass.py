"""The bypass audit replayed on synthesized servers (``mmload.harness.audit`` with a ``send``
that asks a limiter in-process on a simulated clock): the reference server's ``RateLimiter``
with any algorithm (GCRA, and ``limits``' fixed, moving and sliding windows), keying and fault,
its windows off the second, answering after latencies drawn from a tail, and logins keyed as
Mattermost keys them (no token: the address)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from urllib.parse import unquote

from mmload.harness import audit
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.results import bypass
from mmload.server.limiting import LimitSettings, RateLimiter
from tests.support.synth_server import Clocks, limits_clock
from tests.support.synth_world import START

ADDRESS = "198.18.0.10"
PATH = "/api/v4/users/me"
LOGIN = "/api/v4/users/login"
LIMITED = frozenset({429})


@dataclass(frozen=True)
class Server:
    algorithm: str = "gcra"
    rate: Rate = field(default_factory=lambda: Rate(10, 20))
    keying: Keying = field(default_factory=Keying)
    phase: float = 0.0  # where the run starts within a second of the server's clock
    latency: Callable[[random.Random], float] = lambda rng: 0.002


def tail(rng: random.Random) -> float:
    """A latency tail: mostly 2–10 ms, one request in 20 between 50 and 400 ms."""
    return rng.uniform(0.05, 0.4) if rng.random() < 0.05 else rng.uniform(0.002, 0.01)


class Synthesized:
    """``send`` for the audit: each request waits its latency on the clock, then the limiter
    keys and judges it as the reference server would."""

    def __init__(self, server: Server, seed: int) -> None:
        self.server, self.rng = server, random.Random(seed)
        self.clocks = Clocks(phase=server.phase)
        self.t = START
        self.clocks.set(self.t)
        settings = LimitSettings(rate=server.rate, keying=server.keying, algorithm=server.algorithm)
        self.limiter = RateLimiter(settings, clock=self.clocks.server_ns, wall=self.clocks.time)
        self.tokens = (f"token{n}" for n in itertools.count())
        self.token = next(self.tokens)

    def _pass(self) -> None:
        self.t += self.server.latency(self.rng)
        self.clocks.set(self.t)

    def _limited(self, path: str, token: str | None, headers: dict[str, str]) -> bool:
        self._pass()
        lower = {k.lower(): v for k, v in headers.items()}
        name = self.server.keying.vary_by_header.lower()
        key_path = unquote(path.split("?")[0])
        header = lower.get(name) if name else None
        limited, _ = self.limiter.check(
            ADDRESS, token, header, key_path, lower.get("x-forwarded-for")
        )
        return limited

    def send(self, request: bypass.Request) -> int:
        token: str | None = self.token
        if request.how == "fresh-login":
            if self._limited(LOGIN, None, {}):
                return 429
            token = next(self.tokens)
        return 429 if self._limited(request.path, token, request.headers) else 200

    def audit(self) -> list[bypass.Judged]:
        with limits_clock(self.clocks):
            attempts = audit.run(
                self.send,
                PATH,
                self.server.rate.burst,
                self.server.rate.per_sec,
                LIMITED,
                clock=lambda: self.t,
            )
        data = {"refill_per_s": self.server.rate.per_sec, "attempts": [asdict(a) for a in attempts]}
        return bypass.judge(data, LIMITED)
