"""Pass, fail or inconclusive: what a scenario sets out to verify, and whether it could.

A run fails when a check fails (an error; with ``--strict`` a warning too).  It is inconclusive
when nothing failed but something its scenario sets out to verify could not be decided: a
hammer that never reached the limit says the limit is at least what it offered, which is a
finding, not a pass.  A pass still lists what it did not verify."""

from __future__ import annotations

from mmload.limiter.rate import Documented
from mmload.verdict.registry import BELOW, BURST, LIMIT, RATE, RETRY
from mmload.verdict.schema import ERROR, FAIL, INCONCLUSIVE, PASS, Check

ENFORCEMENT = (LIMIT, RATE, BURST)
INTENT: dict[str, tuple[str, ...]] = {
    "hammer": ENFORCEMENT,
    "probe": ENFORCEMENT,
    "ramp": ENFORCEMENT,
    "webhook": (LIMIT, RATE),
    "steady": (BELOW,),
    "mixed": (BELOW,),
    "polite": (RETRY,),
}


def intent(scenario: str, documented: Documented) -> tuple[str, ...]:
    """The checks ``scenario`` sets out to decide (the burst only where one is documented);
    none for a scenario mmload does not know (a locustfile of one's own)."""
    wanted = INTENT.get(scenario, ())
    return tuple(c for c in wanted if c != BURST or documented.burst is not None)


def failed(checks: list[Check], strict: bool) -> list[Check]:
    return [c for c in checks if c.passed is False and (strict or c.severity == ERROR)]


def outcome(checks: list[Check], wanted: tuple[str, ...], strict: bool, answered: int) -> str:
    if failed(checks, strict):
        return FAIL
    if not answered or any(c.passed is None for c in checks if c.id in wanted):
        return INCONCLUSIVE
    return PASS


def not_verified(checks: list[Check]) -> tuple[str, ...]:
    return tuple(c.id for c in checks if c.passed is None)
