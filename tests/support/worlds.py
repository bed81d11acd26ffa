"""Named conditions of the real world as synthesized plans (``synth``), to hold a verdict
to: ``CORRECT`` servers limit as documented, under each condition and a few together;
``BROKEN`` ones do not, each paired with the check that should fail.

A world is a factory of a seed: the seed also draws where the load starts within a second, as
no real run starts on a whole second.  ``Plan.true_rate`` says what is really enforced.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mmload.limiter.rate import Documented, RouteLimit
from mmload.verdict import verify
from mmload.verdict.schema import Measured as MeasuredPart
from tests.support.synth import (
    ME,
    Failures,
    Network,
    Plan,
    Policy,
    Proxy,
    Route,
    Service,
    write_folder,
)
from tests.support.synth_world import CREATE_POST, Leg

WINDOWS = ("fixed-window", "moving-window", "sliding-window")
# real networks: 20 ms each way with a lognormal spread, 1% of answers a second late
DENSE = Network(up=Leg(5.0, 30.0, floor_ms=1.0), down=Leg(2.0, 4.0, floor_ms=0.5))
LOGNORMAL = Network(
    up=Leg(20.0, 80.0, floor_ms=5.0),
    down=Leg(20.0, 80.0, floor_ms=5.0, tail=0.01, tail_ms=(1000.0, 1000.0)),
)
MATTERMOST = "10.5.0.12345.abcdef.false"  # an X-Version-Id


@dataclass(frozen=True)
class World:
    name: str
    build: Callable[[int], Plan]
    fails: str = ""  # BROKEN: the check that should fail

    def plan(self, seed: int) -> Plan:
        return self.build(seed)


def world(name: str, fails: str = "", **settings: Any) -> World:
    """A world of ``Plan(**settings)``, its load starting at a random phase of the seed's."""

    def build(seed: int) -> Plan:
        phase = random.Random(f"{name}:{seed}").random()
        return Plan(seed=seed, start_phase=phase, **settings)

    return World(name, build, fails)


def windowed(algorithm: str, **settings: Any) -> dict[str, Any]:
    """A window algorithm as the verdict tests document it: a 3 s window of 30 (burst 20),
    documented as a rate alone."""
    return {"algorithm": algorithm, "burst": 20, "documented": Documented(10, None), **settings}


def behind_nginx(status: int, burst: int) -> World:
    """nginx's limit_req (10r/s, ``burst``, nodelay) in front of a server that does not limit."""
    limited = (429,) if status == 429 else (429, 503)
    return world(
        f"nginx-{status}-burst-{burst}",
        proxy=Proxy(10, burst, status),
        limiting=False,
        dialect="none",
        documented=Documented(10, burst),
        limited_status=limited,
    )


def _flask(**settings: Any) -> dict[str, Any]:
    """Flask-Limiter's defaults: fixed windows of ``limits``, epoch Reset; 10 per second."""
    return {
        "algorithm": "fixed-window",
        "burst": 0,
        "dialect": "epoch",
        "documented": Documented(10, None),
        **settings,
    }


TWO = ((ME, 3.0), (CREATE_POST, 1.0))
# mmload run's probe through nginx, 12 accounts: the logins are a route of their own that never
# drains, and must not read as a second bucket beside the one the probe drains
NGINX_PROBE = world(
    "nginx-probe-12-logins",
    proxy=Proxy(10, 20, 429),
    limiting=False,
    dialect="none",
    documented=Documented(10, 20),
    scenario="probe",
    users=12,
    seconds=30,
)
CORRECT: list[World] = [
    world("gcra"),
    *(world(a, **windowed(a)) for a in WINDOWS),
    world("steady", scenario="steady", seconds=30),
    world("polite", scenario="polite", seconds=15),
    world("probe", scenario="probe", seconds=19),
    world("ramp", scenario="ramp", seconds=30),
    world("mixed", scenario="mixed", users=12, seconds=30),
    world("latency-lognormal-tail", network=LOGNORMAL, closed_loop=True, users=8),
    world("latency-probe", scenario="probe", seconds=19, network=LOGNORMAL, closed_loop=True),
    world("server-queue", service=Service(workers=2, ms=Leg(5.0)), closed_loop=True, users=20),
    # 8,000 requests/s from 20 users, each arriving 1-30 ms after it was sent: at that density
    # the order of arrival is not the order of sending, and the acceptances one per 100 ms
    # cannot tell a bucket from a window (a correct GCRA server was read as a fixed window, and
    # its Reset failed by that window's rules; mmload run --processes 2 -u 200 did it live)
    world("dense-hammer-arrival-jitter", users=20, per_user=400, seconds=12, network=DENSE),
    world("skew+2.4-epoch", skew=2.4, dialect="epoch"),
    world("skew-2.4-epoch", skew=-2.4, dialect="epoch"),
    *(world(f"{a}-off-second", window_phase=0.37, **windowed(a)) for a in WINDOWS),
    world("two-endpoints-one-bucket", endpoints=TWO),
    world(
        "two-endpoints-per-route",
        endpoints=TWO,
        routes=(Route(CREATE_POST, 1, 5),),
        documented=Documented(10, 100, (RouteLimit(CREATE_POST, 1.0, 5),)),
    ),
    world("5xx-noise-2pct", failures=Failures(share=0.02)),
    world("refuses-503", refuse_status=503, limited_status=(429, 503)),
    *(behind_nginx(status, burst) for status in (429, 503) for burst in (5, 100)),
    NGINX_PROBE,
    world("back-to-back-40pct", prior_requests=68, prior_gap=0.1),
    world(
        "ietf-two-policies",
        dialect="ietf",
        documented=Documented(10, None),
        policies=(Policy("burst", 10, 1), Policy("daily", 300, 60)),
    ),
    world(
        "ietf-two-policies-pk",
        dialect="ietf",
        documented=Documented(10, None),
        policies=(Policy("burst", 10, 1), Policy("daily", 300, 60)),
        bucket_names=True,
    ),
    # Discord's X-RateLimit-Bucket: a route's bucket named, beside a bucket the rest share
    world(
        "named-buckets-per-route",
        endpoints=TWO,
        routes=(Route(CREATE_POST, 1, 5),),
        documented=Documented(10, 100, (RouteLimit(CREATE_POST, 1.0, 5),)),
        bucket_names=True,
    ),
    world("named-buckets-shared", endpoints=TWO, bucket_names=True),
    world("flask-limiter", **_flask()),
    world(
        "everything-at-once",
        network=LOGNORMAL,
        closed_loop=True,
        users=8,
        skew=-1.7,
        dialect="epoch",
        failures=Failures(share=0.02),
        jitter=0.002,
        **windowed("sliding-window", window_phase=0.61),
    ),
]

BROKEN: list[World] = [
    # its clients get nginx's bare 429s beside Mattermost's: a finding about the deployment,
    # with its cause named (a proxy in front)
    world(
        "mattermost-behind-lax-nginx",
        "limited-response-shape",
        proxy=Proxy(20, 200, 429),
        server_version=MATTERMOST,
    ),
    world("fault-no-enforcement", "limit-enforced", faults=("no-enforcement",)),
    world("fault-lax", "rate-matches-documented", faults=("lax",)),
    world("fault-stuck-remaining", "remaining-consistent", faults=("stuck-remaining",)),
    world("fault-no-retry-after", "retry-after-honest", faults=("no-retry-after",)),
    world("fault-bare-429", "limited-response-shape", faults=("bare-429",)),
    world("fault-wrong-reset", "reset-honest", faults=("wrong-reset",)),
    world("fault-shared-bucket", "scope-matches", faults=("shared-bucket",), vary_by="user"),
    # the daily policy says more is left than its quota: only every policy's own r shows it
    world(
        "ietf-policy-overstated",
        "each-policy-consistent",
        dialect="ietf",
        documented=Documented(10, None),
        policies=(Policy("burst", 10, 1), Policy("daily", 300, 60)),
        quirks=("policy-overstated",),
    ),
    world("stricter-5-per-s", "rate-matches-documented", per_sec=5),
    world(
        "limits-below",
        "no-limiting-below-limit",
        per_sec=5,
        burst=5,
        scenario="steady",
        factor=0.8,
        seconds=30,
    ),
    world("cluster-of-2", "rate-matches-documented", servers=2),
    world(
        "nginx-stricter-than-documented",
        "rate-matches-documented",
        proxy=Proxy(5, 100, 429),
        limiting=False,
        dialect="none",
    ),
    world("evicting-store", "limit-enforced", vary_by="user", users=8, store_size=6),
    world("charges-refusals", "no-limiting-below-limit", quirks=("charge-refused",)),
    world(
        "retry-after-truncated",
        "retry-after-honest",
        scenario="polite",
        seconds=15,
        **_flask(quirks=("retry-after-truncated",)),
    ),
    world(
        "headers-after-response",
        "remaining-consistent",
        service=Service(ms=Leg(100.0)),
        **_flask(quirks=("headers-after",)),
    ),
    world("mattermost-limiting-off", "limit-enforced", limiting=False, server_version=MATTERMOST),
    world(
        "lax-with-latency",
        "rate-matches-documented",
        faults=("lax",),
        network=LOGNORMAL,
        closed_loop=True,
        users=8,
    ),
    world(
        "no-retry-after-with-skew",
        "retry-after-honest",
        faults=("no-retry-after",),
        skew=2.4,
        dialect="epoch",
    ),
]


def by_name(name: str) -> World:
    for w in (*CORRECT, *BROKEN):
        if w.name == name:
            return w
    raise KeyError(name)


# -- random worlds: how often the rate interval holds the truth (bench/coverage.py) ----------

RANDOM_ALGORITHMS = ("gcra", "fixed-window", "moving-window", "sliding-window")


def random_plan(rng: random.Random, i: int) -> Plan:
    """A hammer on a random limiter (1/min to 1000/s), behind a random network, starting at a
    random phase, long enough for a few dozen acceptances and small enough to simulate fast."""
    per_sec = 10 ** rng.uniform(-1.78, 3.0)  # 1/min .. 1000/s
    algorithm = rng.choice(RANDOM_ALGORITHMS)
    burst = rng.choice((0, 1, 5, 20, 100)) if algorithm == "gcra" else max(1, round(per_sec))
    burst = min(burst, max(1, round(per_sec * 5)))
    seconds = min(max(40 / per_sec, 5.0), 120.0)
    per_user = min(max(4 * per_sec, 5.0), 3000.0, 12_000 / seconds / 2)
    ms = rng.choice((0.5, 2.0, 20.0))
    network = Network(up=Leg(ms, ms * 4, floor_ms=ms / 4), down=Leg(ms, ms * 4, floor_ms=ms / 4))
    return Plan(
        algorithm=algorithm,
        per_sec=per_sec,
        burst=burst,
        seconds=seconds,
        users=2,
        per_user=max(per_user, 2 * per_sec),
        seed=i,
        start_phase=rng.random(),
        network=network,
        closed_loop=rng.random() < 0.5,
        documented=Documented(per_sec, burst if algorithm == "gcra" else None),
    )


@dataclass
class Coverage:
    """How many random runs measured a rate, how many of those held the true rate, the misses."""

    runs: int = 0
    measured: int = 0
    covered: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, plan: Plan, m: MeasuredPart) -> None:
        """One more run: the plan and what its verdict measured."""
        self.runs += 1
        held = holds(plan, m)
        if held is None:
            return
        self.measured += 1
        self.covered += held
        if not held:
            self.misses.append(
                f"{plan.algorithm} {plan.per_sec:.4g}/s burst {plan.burst}: "
                f"{m.rate_low}..{m.rate_high}, true {plan.true_rate():.4g} "
                f"({m.algorithm})"
            )


def holds(plan: Plan, m: MeasuredPart) -> bool | None:
    """Whether the verdict's rate interval holds the plan's true rate (None: no interval)."""
    true = plan.true_rate()
    if m.rate_low is None or true is None:
        return None
    high = m.rate_high if m.rate_high is not None else float("inf")
    return m.rate_low * 0.999 <= true <= high * 1.001


def random_runs(folder: Path, seed: int = 20261204) -> Iterator[tuple[Plan, MeasuredPart]]:
    """Random plans (:func:`random_plan`) one after another, each written under ``folder`` and
    verified: the plan and what its verdict measured."""
    rng = random.Random(seed)
    for i in itertools.count():
        plan = random_plan(rng, i)
        yield plan, verify(write_folder(folder / f"run{i}", plan)).measured


def coverage(runs: int, folder: Path, seed: int = 20261204) -> Coverage:
    """The first ``runs`` of :func:`random_runs`."""
    found = Coverage()
    for plan, m in itertools.islice(random_runs(folder, seed), runs):
        found.add(plan, m)
    return found


def correct(algorithm: str, dialect: str, vary_by: str) -> Plan:
    """A server configured as documented: Mattermost's 10/s and burst 100 for GCRA; for the
    window algorithms a 3 s window of 30 (burst 20), documented as a rate alone."""
    if algorithm == "gcra":
        return Plan(algorithm=algorithm, dialect=dialect, vary_by=vary_by)
    return Plan(
        algorithm=algorithm,
        dialect=dialect,
        vary_by=vary_by,
        burst=20,
        documented=Documented(10, None),
    )


def quick(plan: Plan) -> Plan:
    """Half the run and a quarter of the requests: enough for a fault to show.  A correct
    server is held to its margins on the full run (half a hammer brings the agreement of a
    sliding window's replay from 0.998 down to 0.992, against the 0.99 required)."""
    return replace(plan, seconds=10, per_user=50)


def shorter(plan: Plan) -> Plan:
    """Half the run on the full hammer: a correct server's rate interval still lies within
    0.2/s of 10 on every algorithm, dialect and keying (0.07 over 20 s), well inside the 5%
    tolerance, and its replay agrees 0.996 or more.  What takes longer to show is held to the
    worlds, 20 s and more."""
    return replace(plan, seconds=10)
