"""The clients of a synthesized run and when each sends (``synth``).

A schedule says when a client sends first (``first``) and next (``next``, given when it sent
and, for a schedule that waits for answers, the record of that request).  ``hammer``: as fast
as ``per_user``; ``steady``: a fraction of the documented rate on a lattice; ``polite``:
hammer, but a 429 makes it wait its Retry-After; ``probe``: the probe scenario's burst, then
1.1, 1.25 and 1.5 times the documented rate; ``ramp``: 0.5, 1, 1.5, 2 and 4 times it; both
paced by the harness's own ``Pacer``; ``mixed``: closed-loop sessions thinking 1 to 3 s.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from mmload.defaults import LOGIN_PHASE
from mmload.harness.pacing import Pacer, phase_slot, step_length, steps
from mmload.results.record import Record
from tests.support.synth_world import CREATE_POST, LOGIN, ME, POSTS, START, TEAMS, VIEW

if TYPE_CHECKING:
    from tests.support.synth import Plan

# the probe scenario's plan (mmload/harness/scenarios/probe.py, a locustfile: not imported here)
PROBE_EXTRA = 5  # requests beyond the documented burst
PROBE_FACTORS: tuple[float, ...] = (1.1, 1.25, 1.5)
PROBE_LEAD = 1.0  # seconds between the burst and the stepped rate
RAMP_FACTORS = (0.5, 1.0, 1.5, 2.0, 4.0)  # mmload/harness/scenarios/ramp.py
MIXED_THINK = (1.0, 3.0)  # mixed.py's ``between(1, 3)``
# mixed.py's tasks (switch channel 13: a view and a page of posts, scroll 4, teams 2, post 2)
MIXED_ENDPOINTS = ((VIEW, 13.0), (POSTS, 17.0), (TEAMS, 2.0), (CREATE_POST, 2.0))


class Client:
    __slots__ = ("address", "number", "source", "token", "user")

    def __init__(self, number: int, sources: int) -> None:
        self.user = f"token:{number:012x}"
        self.token = f"t{number}"
        self.address = f"10.0.0.{number % sources + 1}"
        self.source = f"addr:{number % sources + 1:012x}"
        self.number = number

    def header(self, name: str, endpoint: str) -> str | None:
        """The value of a header the server may key on, as mmload's users send it."""
        if name.lower() == "authorization" and endpoint != LOGIN:
            return f"Bearer {self.token}"
        return "mmload" if name.lower() == "user-agent" else None


def burst_share(total: int, users: int, number: int) -> int:
    """The probe's ``burst_share``: user ``number``'s part of a burst of ``total``."""
    base, extra = divmod(total, max(1, users))
    return base + (1 if number % max(1, users) < extra else 0)


class Schedule:
    """When each client sends; None: it is done.  ``answered``: ``next`` needs the record of
    the request just sent, so the engine asks once the server has decided it."""

    answered = False

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.origin = START + plan.start_phase  # the load's start
        self.end = self.origin + plan.seconds

    def first(self, c: Client) -> float | None:
        raise NotImplementedError

    def next(self, c: Client, sent: float, last: Record | None) -> float | None:
        raise NotImplementedError

    def until_end(self, t: float) -> float | None:
        return t if t < self.end else None


class Hammer(Schedule):
    """Every ``1 / per_user`` seconds with a jitter of a fifth of that, so that no two clients
    run in lockstep with the limiter; polite: after a 429, its Retry-After (1 s if none) from
    the answer, as live."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.gap = 1.0 / plan.per_user
        self.jitter = random.Random(plan.seed)
        self.answered = plan.scenario == "polite"

    def first(self, c: Client) -> float | None:
        t = self.origin + c.number * self.gap / self.plan.users
        return self.until_end(t + self.jitter.uniform(-0.2, 0.2) * self.gap)

    def next(self, c: Client, sent: float, last: Record | None) -> float | None:
        t = sent + self.gap + self.jitter.uniform(-0.2, 0.2) * self.gap
        if self.answered and last is not None and last.status == 429:
            t = sent + last.latency_ms / 1e3 + (last.retry_after or 1.0)
        return self.until_end(t)


class Steady(Schedule):
    """A lattice at ``factor`` times the documented rate in all, the users evenly spread over
    one interval; each send up to ``jitter`` seconds late, off the lattice."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.interval = plan.users / (plan.factor * plan.documented.per_sec)
        self.due: dict[int, float] = {}
        self.late = random.Random(f"{plan.seed}:jitter")

    def first(self, c: Client) -> float | None:
        self.due[c.number] = self.origin + c.number * self.interval / self.plan.users
        return self._late(self.due[c.number])

    def next(self, c: Client, sent: float, last: Record | None) -> float | None:
        self.due[c.number] += self.interval
        return self._late(self.due[c.number])

    def _late(self, t: float) -> float | None:
        if self.plan.jitter:
            t += self.late.uniform(0.0, self.plan.jitter)
        return self.until_end(t)


class Stepped(Schedule):
    """Paced by the harness's ``Pacer`` through ``factors`` of the documented rate, from
    ``lead`` seconds after the load's start; a live sleep wakes a little late (up to 1 ms, or
    ``jitter``): sends never fall on an exact lattice, where a moving window's decision and its
    Remaining disagree (a slot expiring at that very time)."""

    lead = 0.0
    factors: tuple[float, ...] = RAMP_FACTORS

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.step = step_length(None, LOGIN_PHASE + plan.seconds, self.lead, len(self.factors))
        self.factor_at = steps(self.step, self.factors)
        self.pacers: dict[int, Pacer] = {}
        self.late = random.Random(plan.seed)

    def user_rate(self, t: float) -> float:
        return max(self.factor_at(t) * self.plan.documented.per_sec / self.plan.users, 1e-3)

    def first(self, c: Client) -> float | None:
        return self.paced(c)

    def next(self, c: Client, sent: float, last: Record | None) -> float | None:
        return self.paced(c)

    def paced(self, c: Client) -> float | None:
        pacer = self.pacers.get(c.number)
        if pacer is None:
            slot = phase_slot(c.number, self.plan.users)
            start, origin = self.origin + self.lead, self.origin
            pacer = Pacer(self.user_rate, start, slot, clock=lambda: origin, step_seconds=self.step)
            self.pacers[c.number] = pacer
        else:
            pacer.next_delay()
        return self.until_end(pacer.next_at + self.late.uniform(0.0, self.plan.jitter or 1e-3))


class Probe(Stepped):
    """The documented burst and a few more, all at once (the users share it out, each sending
    its part one request after another, on each answer), then after ``PROBE_LEAD`` a paced rate
    of 1.1, 1.25 and 1.5 times the documented one, in steps that share out the rest of the run."""

    lead = PROBE_LEAD
    factors = PROBE_FACTORS
    answered = True

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.total = (plan.documented.capacity or 1) + PROBE_EXTRA
        self.bursts: dict[int, int] = {}  # burst requests each client has still to send

    def first(self, c: Client) -> float | None:
        return self.next(c, self.origin, None)

    def next(self, c: Client, sent: float, last: Record | None) -> float | None:
        left = self.bursts.setdefault(c.number, burst_share(self.total, self.plan.users, c.number))
        if left:
            self.bursts[c.number] = left - 1
            return self.origin + c.number * 1e-5 if last is None else last.answered
        return self.paced(c)


class Mixed(Schedule):
    """mixed.py's sessions: each user sends, waits for the answer, thinks 1 to 3 s."""

    answered = True

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.think = random.Random(f"{plan.seed}:think")

    def first(self, c: Client) -> float | None:
        return self.until_end(self.origin + self.think.uniform(0.0, MIXED_THINK[0]))

    def next(self, c: Client, sent: float, last: Record | None) -> float | None:
        answered = last.answered if last is not None else sent
        return self.until_end(answered + self.think.uniform(*MIXED_THINK))


SCHEDULES: dict[str, type[Schedule]] = {
    "hammer": Hammer,
    "steady": Steady,
    "polite": Hammer,
    "probe": Probe,
    "ramp": Stepped,
    "mixed": Mixed,
}


def endpoints_of(plan: Plan) -> tuple[tuple[str, float], ...]:
    """What the clients request, with weights: mixed's tasks unless told otherwise."""
    if plan.scenario == "mixed" and plan.endpoints == ((ME, 1.0),):
        return MIXED_ENDPOINTS
    return plan.endpoints
