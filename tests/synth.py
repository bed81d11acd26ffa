"""Synthesized run folders: the reference server's own limiter and header dialects, driven by a
virtual clock instead of sockets, so a verdict can be tested on every algorithm x dialect x
vary-by mode x fault in milliseconds.

Clients send on a schedule (``hammer``: as fast as they can; ``steady``: a fraction of the
documented rate; ``polite``: obeying Retry-After; ``probe``: the probe scenario's plan, its
burst and then 1.1, 1.25 and 1.5 times the documented rate, paced by the harness's own
``Pacer``); each request goes through ``mmload.server.limiting.RateLimiter`` at its send time,
its headers are rendered by the dialect and parsed back by ``mmload.dialects``, exactly as in a
live run.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import limits.storage.memory
import limits.strategies

from mmload import dialects
from mmload.defaults import LOGIN_PHASE
from mmload.harness.pacing import Pacer, phase_slot, step_length, steps
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Documented, Rate
from mmload.results.block import Block
from mmload.results.folder import RUN_JSON, write_json, write_keys
from mmload.results.record import Record
from mmload.results.records import RECORDS_BIN, RecordsWriter
from mmload.results.tally import Tally
from mmload.results.timeline import Timeline
from mmload.results.timeline_file import TimelineWriter
from mmload.server.limiting import LimitSettings, RateLimiter

ME = "GET /api/v4/users/me"
LOGIN = "POST /api/v4/users/login"
START = 1_800_000_000.0  # the load phase starts here (UNIX time)
LATENCY_MS = 1.0
SCENARIOS = ("hammer", "steady", "polite", "probe")
VARY_BY = ("address", "user", "none")  # or header:NAME
# the probe scenario's plan (mmload/harness/scenarios/probe.py, a locustfile: not imported here)
PROBE_EXTRA = 5  # requests beyond the documented burst
PROBE_FACTORS = (1.1, 1.25, 1.5)
PROBE_LEAD = 1.0  # seconds between the burst and the stepped rate


@dataclass
class Plan:
    """The server's settings and what the clients do."""

    algorithm: str = "gcra"
    dialect: str = "mattermost"
    per_sec: int = 10
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

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario {self.scenario!r}: choose from {', '.join(SCENARIOS)}")
        if self.vary_by not in VARY_BY and not self.vary_by.startswith("header:"):
            raise ValueError(f"vary_by {self.vary_by!r}: address, user, none or header:NAME")

    def told_vary_by(self) -> str:
        """What ``mmload run --vary-by`` says of this server: per user when its key is the
        user's token (header:Authorization is the token too), shared for one bucket for all,
        else per address."""
        if self.told:
            return self.told
        if self.vary_by == "none":
            return "shared"
        return "user" if self.vary_by in ("user", "header:Authorization") else "address"


class _FakeTime:
    """Stands in for the ``time`` module inside ``limits``, which reads the clock itself."""

    def __init__(self) -> None:
        self.now = START

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@contextmanager
def _limits_clock(fake: _FakeTime) -> Iterator[None]:
    saved = limits.storage.memory.time, limits.strategies.time
    limits.storage.memory.time, limits.strategies.time = fake, fake  # type: ignore[assignment]
    try:
        yield
    finally:
        limits.storage.memory.time, limits.strategies.time = saved


def _keying(vary_by: str) -> Keying:
    if vary_by == "user":
        return Keying(vary_by_remote_addr=True, vary_by_user=True)
    if vary_by.startswith("header:"):  # as ``mmload run --server-vary-by header:NAME``
        return Keying(vary_by_remote_addr=True, vary_by_header=vary_by.split(":", 1)[1])
    return Keying(vary_by_remote_addr=vary_by == "address")


class _Client:
    def __init__(self, number: int, plan: Plan) -> None:
        self.user = f"token:{number:012x}"
        self.token = f"t{number}"
        self.address = f"10.0.0.{number % plan.sources + 1}"
        self.source = f"addr:{number % plan.sources + 1:012x}"
        self.number = number

    def header(self, name: str, endpoint: str) -> str | None:
        """The value of a header the server may key on, as mmload's users send it."""
        if name.lower() == "authorization" and endpoint != LOGIN:
            return f"Bearer {self.token}"
        return "mmload" if name.lower() == "user-agent" else None


def _schedule(plan: Plan) -> Callable[[_Client, float, Record | None], float | None]:
    """next send time of a client after ``now``, given its last record (None: its first)."""
    end = START + plan.seconds
    if plan.scenario == "probe":
        return _probe(plan)
    if plan.scenario == "steady":
        interval = plan.users / (plan.factor * plan.documented.per_sec)

        def steady(c: _Client, now: float, last: Record | None) -> float | None:
            t = START + c.number * interval / plan.users if last is None else now + interval
            return t if t < end else None

        return steady
    gap = 1.0 / plan.per_user
    jitter = random.Random(plan.seed)

    def hammer(c: _Client, now: float, last: Record | None) -> float | None:
        t = START + c.number * gap / plan.users if last is None else now + gap
        t += jitter.uniform(-0.2, 0.2) * gap  # no two clients in lockstep with the limiter
        if plan.scenario == "polite" and last is not None and last.status == 429:
            t = now + LATENCY_MS / 1e3 + (last.retry_after or 1.0)  # from the answer, as live
        return t if t < end else None

    return hammer


def burst_share(total: int, users: int, number: int) -> int:
    """The probe's ``burst_share``: user ``number``'s part of a burst of ``total``."""
    base, extra = divmod(total, max(1, users))
    return base + (1 if number % max(1, users) < extra else 0)


def _probe(plan: Plan) -> Callable[[_Client, float, Record | None], float | None]:
    """The probe: the documented burst and a few more, all at once (the users share it out, each
    sending its part one request after another), then after ``PROBE_LEAD`` a paced rate of 1.1,
    1.25 and 1.5 times the documented one, in three steps that share out the rest of the run."""
    end = START + plan.seconds
    total = (plan.documented.capacity or 1) + PROBE_EXTRA
    step = step_length(None, LOGIN_PHASE + plan.seconds, PROBE_LEAD, len(PROBE_FACTORS))
    factor_at = steps(step, PROBE_FACTORS)

    def user_rate(t: float) -> float:
        return max(factor_at(t) * plan.documented.per_sec / plan.users, 1e-3)

    bursts: dict[int, int] = {}  # burst requests each client has still to send
    pacers: dict[int, Pacer] = {}
    late = random.Random(plan.seed)

    def probe(c: _Client, now: float, last: Record | None) -> float | None:
        left = bursts.setdefault(c.number, burst_share(total, plan.users, c.number))
        if left:
            bursts[c.number] = left - 1
            return START + c.number * 1e-5 if last is None else now + LATENCY_MS / 1e3
        pacer = pacers.get(c.number)
        if pacer is None:
            slot = phase_slot(c.number, plan.users)
            pacer = pacers[c.number] = Pacer(user_rate, START + PROBE_LEAD, slot,
                                             clock=lambda: START, step_seconds=step)  # fmt: skip
        else:
            pacer.next_delay()
        # a live sleep wakes a little late: sends never fall on an exact lattice, where a
        # moving window's decision and its Remaining disagree (a slot expiring at that very time)
        t = pacer.next_at + late.uniform(0.0, 1e-3)
        return t if t < end else None

    return probe


def simulate(plan: Plan) -> list[Record]:
    """Every request of the plan, in send order, as the collector would have recorded it."""
    fake = _FakeTime()
    settings = LimitSettings(
        rate=Rate(plan.per_sec, plan.burst), keying=_keying(plan.vary_by),
        algorithm=plan.algorithm, dialect=plan.dialect, faults=frozenset(plan.faults),
    )  # fmt: skip
    with _limits_clock(fake):
        nodes = [RateLimiter(settings, clock=lambda: round(fake.now * 1e9), wall=fake.time)
                 for _ in range(plan.servers)]  # fmt: skip
        turn = iter(range(10**9))
        clients = [_Client(k, plan) for k in range(plan.users)]
        login_at = [START - 1.0 + c.number * 1e-3 for c in clients]
        records = [_request(nodes[next(turn) % plan.servers], fake, c, login_at[c.number], LOGIN)
                   for c in clients]  # fmt: skip
        nxt = _schedule(plan)
        queue = [(t, c.number) for c in clients if (t := nxt(c, START, None)) is not None]
        heapq.heapify(queue)
        while queue:
            t, number = heapq.heappop(queue)
            record = _request(nodes[next(turn) % plan.servers], fake, clients[number], t, ME)
            records.append(record)
            after = nxt(clients[number], t, record)
            if after is not None:
                heapq.heappush(queue, (after, number))
    return records


_parsed: dict[tuple[tuple[str, str], ...], Any] = {}


def _request(limiter: RateLimiter, fake: _FakeTime, c: _Client, t: float, endpoint: str) -> Record:
    fake.now = t
    token = None if endpoint == LOGIN else c.token
    name = limiter.keying.vary_by_header
    limited, headers = limiter.check(c.address, token, c.header(name, endpoint) if name else None)
    key = (*headers, ("Date", formatdate(math.floor(t), usegmt=True)))
    snap = _parsed.get(key)
    if snap is None:
        snap = _parsed[key] = dialects.parse_headers(dict(key))
    retry = snap.retry_after
    if retry is None and snap.retry_at is not None:
        retry = max(0.0, snap.retry_at - t)
    user = "" if endpoint == LOGIN else c.user
    return Record(
        t, LATENCY_MS, endpoint, 429 if limited else 200, c.source, user, c.source,
        snap.limit, snap.remaining, snap.reset, retry, snap.window, snap.policy, snap.dialect,
        snap.date, snap.problem,
    )  # fmt: skip


def write_folder(folder: Path, plan: Plan, records: list[Record] | None = None) -> Path:
    """A run folder of the plan, as ``mmload run`` leaves one."""
    records = simulate(plan) if records is None else records
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
    write_json(folder / RUN_JSON, {
        "status": "finished", "scenario": plan.scenario, "host": "http://synthesized",
        "users": plan.users, "load_started": START, "totals": tally.totals(),
        "settings": {"documented_limit": plan.documented.to_dict(), "request_timeout": 60.0,
                     "vary_by": plan.told_vary_by()},
        "synthesized": {"algorithm": plan.algorithm, "dialect": plan.dialect,
                        "per_sec": plan.per_sec, "burst": plan.burst, "faults": list(plan.faults)},
    })  # fmt: skip
    return folder
