"""Synthesized run folders: the reference server's own limiter and header dialects, driven by a
virtual clock instead of sockets, so a verdict can be tested on every algorithm x dialect x
vary-by mode x fault, and under the conditions of the real world, in milliseconds.

Clients send on a schedule (``synth_clients``: hammer, steady, polite, probe, ramp,
mixed); each request goes through the network, an optional proxy and the server's queue to
``mmload.server.limiting.RateLimiter`` (``synth_engine``, ``synth_server``); its
headers are rendered by the dialect and parsed back by ``mmload.dialects``, exactly as in a live
run.  Every condition defaults to off: a default plan's requests are decided at their send time
and answered 1 ms later.  ``Plan.true_rate`` says what the server (or its proxy) enforces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmload.limiter import faults as fault_names
from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.results.folder import RUN_JSON, write_json, write_keys
from mmload.results.record import Record
from mmload.results.records_file import RECORDS_BIN, RecordsWriter
from mmload.results.samples import LIMIT_EXCEEDED, SAMPLED, Samples
from mmload.results.tally import Tally
from mmload.results.timeline import Timeline
from mmload.results.timeline_file import TimelineWriter
from mmload.server.limiting import ALGORITHMS
from tests.support import synth_engine
from tests.support.synth_clients import PROBE_EXTRA, SCHEDULES, Stepped, burst_share
from tests.support.synth_engine import Traced
from tests.support.synth_world import (
    LATENCY_MS,
    LOGIN,
    ME,
    QUIRKS,
    START,
    Failures,
    Network,
    Policy,
    Proxy,
    Route,
    Service,
    enforced,
)

__all__ = [
    "LATENCY_MS",
    "LOGIN",
    "ME",
    "PROBE_EXTRA",
    "START",
    "Failures",
    "Network",
    "Plan",
    "Policy",
    "Proxy",
    "Route",
    "Service",
    "Traced",
    "burst_share",
    "simulate",
    "trace",
    "write_folder",
]
SCENARIOS = tuple(SCHEDULES)
VARY_BY = ("address", "user", "none")  # or header:NAME


@dataclass
class Plan:
    """The server's settings, what the clients do, and the world between them."""

    algorithm: str = "gcra"
    dialect: str = "mattermost"
    per_sec: float = 10.0
    burst: int = 100
    # of the server: address, user, none (one shared bucket) or header:NAME (the address and
    # the request's NAME header, which clients send only as Authorization or User-Agent)
    vary_by: str = "address"
    faults: tuple[str, ...] = ()
    scenario: str = "hammer"
    users: int = 4
    seconds: float = 20.0
    per_user: float = 100.0  # hammer and polite: requests per second each user sends
    factor: float = 0.5  # steady: the total offered rate as a multiple of the documented one
    documented: Documented = field(default_factory=Documented.resolve)
    sources: int = 1  # distinct source addresses, users spread over them
    servers: int = 1  # limiters of their own behind a round-robin balancer (a cluster)
    seed: int = 7
    told: str = ""  # what the run says it keys on (--vary-by); "": as the server does
    # -- the clients
    closed_loop: bool = False  # each sends only once its previous answer came back (Locust)
    think: float = 0.0  # closed loop: seconds between an answer and the next send
    max_rate: float = 0.0  # requests/s all clients together can send at most; 0: no cap
    jitter: float = 0.0  # steady, probe, ramp: each send up to this many seconds late
    start_phase: float = 0.0  # the load starts this long after START (off the whole second)
    endpoints: tuple[tuple[str, float], ...] = ((ME, 1.0),)  # what clients request, weights
    # -- between them
    network: Network = field(default_factory=Network)  # each leg's delay
    service: Service = field(default_factory=Service)  # the server's workers and their queue
    skew: float = 0.0  # seconds the server's clock is ahead of the clients' (Date, epoch Reset)
    window_phase: float = 0.0  # seconds the limiter's clock is ahead of the server's
    failures: Failures = field(default_factory=Failures)  # 5xx and outages
    proxy: Proxy | None = None  # nginx's limit_req in front, by client address
    # -- the server
    limiting: bool = True  # False: Mattermost's RateLimitSettings.Enable false
    routes: tuple[Route, ...] = ()  # routes with a bucket and a rate of their own
    per_route: bool = False  # every route a bucket of its own (at per_sec/burst unless routed)
    policies: tuple[Policy, ...] = ()  # IETF policies enforced together, instead of per_sec
    # the server names each bucket: X-RateLimit-Bucket (Discord) per route beside the X-Ratelimit
    # headers, or an IETF pk per key
    bucket_names: bool = False
    refuse_status: int = 429  # what its limiter refuses with (nginx's limit_req_status: 503)
    refusal_body: str = LIMIT_EXCEEDED  # the shape of its refusals' bodies
    store_size: int = 10_000  # keys its limiter remembers (Mattermost's MemoryStoreSize)
    prior_requests: int = 0  # back to back: a previous run's last requests on every bucket,
    prior_gap: float = 0.0  # ending this many seconds before the first login
    quirks: tuple[str, ...] = ()  # limiter behaviours of other servers (synth_world.QUIRKS)
    server_version: str = ""  # its X-Version-Id: the target says it is Mattermost
    # -- the run
    limited_status: tuple[int, ...] = (429,)  # the statuses the run counts as refusals

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario {self.scenario!r}: choose from {', '.join(SCENARIOS)}")
        if self.vary_by not in VARY_BY and not self.vary_by.startswith("header:"):
            raise ValueError(f"vary_by {self.vary_by!r}: address, user, none or header:NAME")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm {self.algorithm!r}: choose from {', '.join(ALGORITHMS)}")
        fault_names.check_names(self.faults)
        unknown = sorted(set(self.quirks) - QUIRKS.keys())
        if unknown:
            raise ValueError(f"unknown quirk {', '.join(unknown)}; choose from {', '.join(QUIRKS)}")

    def told_vary_by(self) -> str:
        """What ``mmload run --vary-by`` says of this server: per user when its key is the
        user's token (header:Authorization is the token too), shared for one bucket for all,
        else per address."""
        if self.told:
            return self.told
        if self.vary_by == "none":
            return "shared"
        return "user" if self.vary_by in ("user", "header:Authorization") else "address"

    def true_rate(self, endpoint: str = ME) -> float | None:
        """Requests per second one key's requests to ``endpoint`` get through in the long run:
        what the server (or its proxy, whichever is tighter) enforces; None: nothing does."""
        truth = enforced(self, endpoint)
        return None if truth is None else truth[0]

    def true_capacity(self, endpoint: str = ME) -> int | None:
        """Requests one key's full bucket for ``endpoint`` admits at once."""
        truth = enforced(self, endpoint)
        return None if truth is None else truth[1]


def trace(plan: Plan) -> list[Traced]:
    """Every request of the plan in send order, with when its limiter decided and its body."""
    return synth_engine.run(plan)


def simulate(plan: Plan) -> list[Record]:
    """Every request of the plan, in send order, as the collector would have recorded it."""
    return [t.record for t in synth_engine.run(plan)]


def error_bodies(traced: list[Traced]) -> Samples:
    """What the collector samples: the shapes of the first bodies of each error status."""
    found: Samples = {}
    for t in traced:
        status = t.record.status
        if status >= 400:
            shapes = found.setdefault(str(status), {})
            if sum(shapes.values()) < SAMPLED:
                shapes[t.body] = shapes.get(t.body, 0) + 1
    return found


def write_folder(
    folder: Path,
    plan: Plan,
    records: list[Record] | None = None,
    traced: list[Traced] | None = None,
) -> Path:
    """A run folder of the plan, as ``mmload run`` leaves one."""
    if records is None:
        traced = trace(plan) if traced is None else traced
        records = [t.record for t in traced]
    folder.mkdir(parents=True, exist_ok=True)
    block = Block.from_records(records)
    writer = RecordsWriter(folder / RECORDS_BIN, max_records=10**9)
    writer.add_block(block)
    writer.close()
    tally, timeline = Tally(), Timeline()
    tally.add(block)
    timeline.add(block)
    rows = TimelineWriter(folder)
    rows.write(timeline.drain(), [])
    rows.close()
    write_keys(folder, tally.by_key)
    write_json(folder / RUN_JSON, run_json(plan, tally, traced))
    return folder


def run_json(plan: Plan, tally: Tally, traced: list[Traced] | None) -> dict[str, Any]:
    load_started = START + plan.start_phase
    return {
        "status": "finished",
        "scenario": plan.scenario,
        "host": "http://synthesized",
        "users": plan.users,
        "load_started": load_started,
        "steps": _steps(plan, load_started),
        "totals": tally.totals(),
        "settings": {
            "documented_limit": plan.documented.to_dict(),
            "request_timeout": 60.0,
            "vary_by": plan.told_vary_by(),
            "limited_status": list(plan.limited_status),
        },
        "server_version_id": plan.server_version or None,
        "error_bodies": error_bodies(traced) if traced is not None else {},
        "synthesized": {
            "algorithm": plan.algorithm,
            "dialect": plan.dialect,
            "per_sec": plan.per_sec,
            "burst": plan.burst,
            "faults": list(plan.faults),
            "quirks": list(plan.quirks),
            "true_rate": plan.true_rate(),
            "true_capacity": plan.true_capacity(),
        },
    }


def _steps(plan: Plan, load_started: float) -> dict[str, Any] | None:
    """When a stepped scenario's steps start, how long each is, and their factors."""
    schedule = SCHEDULES[plan.scenario](plan)
    if not isinstance(schedule, Stepped):
        return None
    return {
        "start": load_started + schedule.lead,
        "seconds": schedule.step,
        "factors": list(schedule.factors),
    }
