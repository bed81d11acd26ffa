"""Judging a run's records, a stretch at a time: the first stretch by every check, each later one
of a long run again by the checks that do not depend on how it began, and what those find folded
into the run's checks (see :func:`mmload.verdict.verify`).

A later stretch shorter than :data:`MIN_SECONDS` (the run's tail) is listed but not judged: a
window limiter's minute or a slow bucket's refill needs longer than that to show its rate."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.verdict import notes, policies, registry
from mmload.verdict.diagnose import diagnose
from mmload.verdict.findings import Context
from mmload.verdict.measured import Found, Measured, measure_run
from mmload.verdict.schema import Advertised, Check, Stretch
from mmload.verdict.schema import Measured as MeasuredPart
from mmload.verdict.streams import decided, refused, unread, with_routes

MIN_SECONDS = 60.0


@dataclass(frozen=True)
class First:
    """What the verdict keeps of the run's first stretch, the rest of it let go."""

    checks: list[Check]
    answered: int
    words: str  # what the server was seen to enforce, in words
    measured: MeasuredPart
    advertised: Advertised
    notes: tuple[str, ...]
    stretch: Stretch
    origin: float  # its first request, UNIX seconds: a later stretch's times count from it
    found: Found  # its buckets and family, which later stretches are read by


@dataclass(frozen=True)
class Judge:
    """The run's documentation and settings, which every stretch is judged by."""

    documented: Documented
    tolerance: float
    mattermost: bool
    bodies: dict[str, dict[str, int]]
    expected_scope: str
    limited: tuple[int, ...]

    def _context(self, requests: Block, like: Found | None = None) -> Context:
        return Context(
            measure_run(requests, self.documented, self.expected_scope, like),
            self.documented,
            self.tolerance,
            self.mattermost,
            self.bodies,
            unread(requests),
            self.expected_scope,
            self.limited,
            policies.tally(requests),
        )

    def first(self, blocks: Iterator[Block]) -> First:
        """The run's first stretch (a run that fits in one: the whole run), by every check.
        (It takes the stretch from ``blocks`` itself, so that nothing else holds it once its
        answered requests are copied out.)"""
        block = next(blocks, Block.empty())
        run_notes = tuple(notes.for_run(block, self.limited))
        requests = with_routes(decided(block, self.limited), self.documented)
        del block  # the answered requests are a copy: memory holds one
        context = self._context(requests)
        m = context.measured
        checks = [replace(c, diagnosis=diagnose(c, context)) for c in registry.judge(context)]
        t = requests.numbers["sent"]
        origin = float(t[0]) if len(t) else 0.0
        return First(
            checks,
            len(requests),
            enforced_words(m),
            m.part(),
            Advertised(m.dialect or None, m.limit, m.window, m.reset_semantics or None, m.policies),
            run_notes,
            _stretch(requests, m, checks, origin),
            origin,
            m.found,
        )

    def later(self, blocks: Iterator[Block], first: First) -> list[tuple[Stretch, list[Check]]]:
        """Every later stretch, each with the checks it failed or passed."""
        found = []
        while (judged := self._again(blocks, first)) is not None:
            found.append(judged)
        return found

    def _again(self, blocks: Iterator[Block], first: First) -> tuple[Stretch, list[Check]] | None:
        """The next stretch, by the checks judged again (none when it is too short), split into
        buckets and read by the family as the first stretch found; None after the last."""
        block = next(blocks, None)
        if block is None:
            return None
        origin = first.origin
        requests = with_routes(decided(block, self.limited), self.documented)
        del block
        t = requests.numbers["sent"]
        if len(t) < 2 or float(t[-1] - t[0]) < MIN_SECONDS:
            return _stretch(requests, None, [], origin), []
        context = self._context(requests, first.found)
        checks = [
            replace(c, diagnosis=diagnose(c, context) if c.passed is False else "")
            for c in registry.judge(context, again=True)
        ]
        return _stretch(requests, context.measured, checks, origin), checks


def _stretch(requests: Block, m: Measured | None, checks: list[Check], origin: float) -> Stretch:
    t = requests.numbers["sent"]
    i = None if m is None else m.interval
    return Stretch(
        start_s=round(float(t[0]) - origin, 3) if len(t) else 0.0,
        end_s=round(float(t[-1]) - origin, 3) if len(t) else 0.0,
        requests=len(requests),
        refused=int(refused(requests).sum()),
        rate_per_s=None if i is None else round(i.rate, 3),
        rate_low=None if i is None else round(i.low, 3),
        rate_high=None if i is None or math.isinf(i.high) else round(i.high, 3),
        failed=tuple(c.id for c in checks if c.passed is False),
        judged=m is not None,
    )


def merged(checks: list[Check], later: list[tuple[Stretch, list[Check]]]) -> list[Check]:
    """The run's checks with what later stretches found: a check that failed on one fails (in
    the first stretch's words where it failed there already, else in the first later one's,
    saying when).  Later stretches only ever add failures: a check the first could not decide
    stays undecided (the whole run may be as unsure as its first stretch)."""
    judged = sum(1 for s, _ in later if s.judged)
    out = []
    for check in checks:
        failed = [(s, c) for s, cs in later for c in cs if c.id == check.id and c.passed is False]
        if check.passed is not False and failed:
            s, c = failed[0]
            where = f"{len(failed)} of {judged} later stretches, the first from {clock(s.start_s)}"
            check = replace(c, message=f"{c.message} ({where} into the run)")
        out.append(check)
    return out


def clock(seconds: float) -> str:
    """A time into the run as h:mm:ss."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def enforced_words(m: Measured) -> str:
    """What the server was seen to enforce, in words."""
    refused_any = any(s.limited.any() for s in m.streams)
    i = m.interval
    if i is not None:
        high = f"{i.high:.3g}" if np.isfinite(i.high) else "∞"
        burst = f", burst {m.burst}" if m.burst is not None else ""
        words = (
            f"enforces {i.rate:.3g}/s ({i.low:.3g}..{high}){burst} ({m.algorithm}, {m.scope.scope})"
        )
        return words + (f": {m.buckets_per_key} buckets per key" if m.buckets_per_key > 1 else "")
    if refused_any:
        return "refused some requests, too few or too irregular to measure a rate"
    return f"refused nothing at {m.offered_rate:.3g}/s offered to its busiest bucket"
