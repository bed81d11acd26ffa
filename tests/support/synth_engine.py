"""The event loop of a synthesized run (``synth``): a request's life on virtual clocks.

A client sends at ``sent`` (its clock); the request travels up (``Network.up``) to the front: an
outage answers at once, a proxy decides on arrival; then it waits for one of the server's
workers (``Service``), whose limiter decides when it takes the request up; the answer leaves
after the service time and travels down.  ``latency_ms`` is the sum of the four, so every
decision lies in [sent, sent + latency].  Events run in time order, so each limiter sees its
requests in the order it decides them.  A schedule that waits for answers (polite, probe,
mixed, ``closed_loop``) is asked for the next send once the answer is decided.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, NamedTuple

from mmload import dialects
from mmload.results.record import Record
from tests.support.synth_clients import SCHEDULES, Client, endpoints_of
from tests.support.synth_limiters import Later
from tests.support.synth_server import Clocks, Proxy, limits_clock, server_of
from tests.support.synth_world import LOGIN, Leg

if TYPE_CHECKING:
    from tests.support.synth import Plan

SEND, ARRIVE, FREE, LEAVE = 0, 1, 2, 3
LOAD, LOGGING_IN = 0, 1  # a send's ref
HTML = "html"  # a proxy's or a balancer's own error page
REFUSED = "connection refused"


class Traced(NamedTuple):
    """A record and what only the synthesizer knows of it."""

    record: Record
    decided: float  # clients' time the limiter that answered (server or proxy) decided
    by: str  # "server", "proxy" or "none" (an outage: no limiter saw it)
    body: str  # the shape of its body (mmload.results.samples), "" for a success


class _Request:
    __slots__ = ("client", "endpoint", "sent", "seq", "up_ms", "wait_ms")

    def __init__(self, seq: int, client: Client, sent: float, endpoint: str, up_ms: float):
        self.seq, self.client, self.sent, self.endpoint = seq, client, sent, endpoint
        self.up_ms, self.wait_ms = up_ms, 0.0


def _leg(leg: Leg, rng: random.Random) -> Callable[[], float]:
    return leg.sampler(rng)


def _chooser(plan: Plan) -> Callable[[], str]:
    weighted = endpoints_of(plan)
    if len(weighted) == 1:
        only = weighted[0][0]
        return lambda: only
    rng = random.Random(f"{plan.seed}:endpoints")
    names = [name for name, _ in weighted]
    cumulative = [sum(w for _, w in weighted[: k + 1]) for k in range(len(weighted))]
    return lambda: rng.choices(names, cum_weights=cumulative)[0]


class Engine:
    def __init__(self, plan: Plan) -> None:
        self.plan = p = plan
        self.clocks = Clocks(p.skew, p.window_phase)
        self.server = server_of(p, self.clocks)
        self.proxy = None if p.proxy is None else Proxy(p.proxy, self.clocks)
        self.schedule = SCHEDULES[p.scenario](p)
        self.answered = self.schedule.answered or p.closed_loop
        self.clients = [Client(k, p.sources) for k in range(p.users)]
        network = random.Random(f"{p.seed}:network")
        self.up, self.down = _leg(p.network.up, network), _leg(p.network.down, network)
        self.service = _leg(p.service.ms, random.Random(f"{p.seed}:service"))
        self.chance = random.Random(f"{p.seed}:failures")
        self.endpoint = _chooser(p)
        self.workers, self.busy = p.service.workers, 0
        self.queue: deque[tuple[_Request, float]] = deque()
        self.heap: list[tuple[float, int, int, int]] = []
        self.pending: dict[int, _Request] = {}
        self.later: dict[int, tuple[_Request, float, bool, Later, float]] = {}
        self.traced: list[Traced] = []
        out = p.failures.outage
        origin = self.schedule.origin
        self.outage = (origin + out[0], origin + out[0] + out[1]) if out else None
        self.login_at = [origin - 1.0 + c.number * 1e-3 for c in self.clients]

    def run(self) -> list[Traced]:
        handlers = {
            SEND: self._send,
            ARRIVE: self._arrive_event,
            FREE: self._free,
            LEAVE: self._leave,
        }
        with limits_clock(self.clocks):
            self._prior()
            self.heap = [(t, n, SEND, LOGGING_IN) for n, t in enumerate(self.login_at)]
            heapq.heapify(self.heap)
            pop = heapq.heappop
            while self.heap:
                t, number, kind, ref = pop(self.heap)
                handlers[kind](t, number, ref)
        return self.traced

    def _prior(self) -> None:
        """A previous run's traffic: every bucket starts ``prior_requests`` down, sent until
        ``prior_gap`` seconds before the first login."""
        p = self.plan
        if p.prior_requests:
            until = self.login_at[0] - p.prior_gap
            self.server.drain(self.clients, p.prior_requests, until)
            if self.proxy is not None:
                self.proxy.drain(self.clients, p.prior_requests, until)

    def _send(self, t: float, number: int, ref: int) -> None:
        c = self.clients[number]
        login = ref == LOGGING_IN
        req = _Request(len(self.traced), c, t, LOGIN if login else self.endpoint(), self.up())
        self.traced.append(None)  # type: ignore[arg-type]  # filled in once decided
        if not self.answered:
            self._next(c, t, None, login, t)
        if req.up_ms:
            self.pending[req.seq] = req
            heapq.heappush(self.heap, (t + req.up_ms / 1e3, number, ARRIVE, req.seq))
        else:
            self._arrive(t, req)

    def _next(self, c: Client, sent: float, last: Record | None, login: bool, now: float) -> None:
        """Schedule the client's next send (its first load request after its login), not
        before ``now`` (the engine's time), nor before the answer with ``closed_loop``."""
        p, schedule = self.plan, self.schedule
        t = schedule.first(c) if login else schedule.next(c, sent, last)
        if t is None:
            return
        if p.closed_loop and last is not None:
            t = max(t, last.answered + p.think)
        if p.max_rate and not login:
            t = max(t, sent + p.users / p.max_rate)
        if t < schedule.end:
            heapq.heappush(self.heap, (max(t, now), c.number, SEND, LOAD))

    def _arrive_event(self, t: float, number: int, seq: int) -> None:
        self._arrive(t, self.pending.pop(seq))

    def _arrive(self, t: float, req: _Request) -> None:
        if self.outage is not None and self.outage[0] <= t < self.outage[1]:
            status = self.plan.failures.outage_status
            self._finish(req, t, status, [], HTML if status else "", 0.0, "none")
        elif self.proxy is not None and self._proxy_refuses(t, req):
            self._finish(req, t, self.proxy.status, [], HTML, 0.0, "proxy")
        elif not self.workers:
            self._decide(req, t)
        elif self.busy < self.workers:
            self.busy += 1
            self._decide(req, t)
        else:
            self.queue.append((req, t))

    def _proxy_refuses(self, t: float, req: _Request) -> bool:
        assert self.proxy is not None
        self.clocks.set(t)
        return self.proxy.refuses(req.client)

    def _free(self, t: float, number: int, ref: int) -> None:
        if not self.queue:
            self.busy -= 1
            return
        req, arrived = self.queue.popleft()
        req.wait_ms = (t - arrived) * 1e3
        self._decide(req, t)

    def _decide(self, req: _Request, t: float) -> None:
        served = self.service()
        self.clocks.set(t)
        limited, headers = self.server.check(req.client, req.endpoint)
        if self.workers:
            heapq.heappush(self.heap, (t + served / 1e3, -1, FREE, 0))
        if isinstance(headers, Later):  # rendered when the answer leaves
            self.later[req.seq] = (req, t, limited, headers, served)
            heapq.heappush(self.heap, (t + served / 1e3, req.client.number, LEAVE, req.seq))
        else:
            self._answer(req, t, limited, headers, served)

    def _leave(self, t: float, number: int, seq: int) -> None:
        req, decided, limited, later, served = self.later.pop(seq)
        self.clocks.set(t)
        self._answer(req, decided, limited, later.limiter.leave(later.key, later.decision), served)

    def _answer(
        self, req: _Request, t: float, limited: bool, headers: dialects.Headers, served: float
    ) -> None:
        """The server's answer to a request decided at ``t``: a refusal, a success, or a
        failure of the application."""
        p = self.plan
        status, body = (p.refuse_status, p.refusal_body) if limited else (200, "")
        failures = p.failures
        if not limited and failures.share and self.chance.random() < failures.share:
            status = self.chance.choice(failures.statuses)
            headers, body = (headers, failures.body) if status == 500 else ([], HTML)
        self._finish(req, t, status, headers, body, served, "server")

    def _finish(
        self,
        req: _Request,
        t: float,
        status: int,
        headers: dialects.Headers,
        body: str,
        served_ms: float,
        by: str,
    ) -> None:
        """The answer: recorded as the collector would, and the client's next send."""
        latency = req.up_ms + req.wait_ms + served_ms + self.down()
        c = req.client
        if status:
            date = math.floor(t + served_ms / 1e3 + self.plan.skew)
            record = _record(req, latency, status, headers, date)
        else:
            record = Record(
                req.sent,
                latency,
                req.endpoint,
                0,
                c.source,
                _user(req),
                c.source,
                None,
                None,
                None,
                None,
                None,
                "",
                "",
                None,
                REFUSED,
            )
        decided = req.sent + (req.up_ms + req.wait_ms) / 1e3
        self.traced[req.seq] = Traced(record, decided, by, body)
        if self.answered:
            self._next(c, req.sent, record, req.endpoint == LOGIN, t)


_parsed: dict[tuple[tuple[str, str], ...], Any] = {}
_dates: dict[int, str] = {}


def _user(req: _Request) -> str:
    return "" if req.endpoint == LOGIN else req.client.user


def _record(
    req: _Request, latency: float, status: int, headers: dialects.Headers, date: int
) -> Record:
    """The record the collector makes of an answer: its headers parsed by mmload.dialects."""
    when = _dates.get(date)
    if when is None:
        when = _dates[date] = formatdate(date, usegmt=True)
    key = (*headers, ("Date", when))
    snap = _parsed.get(key)
    if snap is None:
        snap = _parsed[key] = dialects.parse_headers(dict(key))
    retry = snap.retry_after
    if retry is None and snap.retry_at is not None:
        retry = max(0.0, snap.retry_at - req.sent)
    c = req.client
    return Record(
        req.sent,
        latency,
        req.endpoint,
        status,
        c.source,
        _user(req),
        c.source,
        snap.limit,
        snap.remaining,
        snap.reset,
        retry,
        snap.window,
        snap.policy,
        snap.dialect,
        snap.date,
        snap.problem,
        snap.bucket,
        snap.policies,
    )


def run(plan: Plan) -> list[Traced]:
    """Every request of the plan, in send order, with what only the synthesizer knows."""
    return Engine(plan).run()
