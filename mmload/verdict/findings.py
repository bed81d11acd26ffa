"""What every check is given (:class:`Context`) and what it returns (:class:`Finding`): whether
it holds, in words; its id and severity are declared once, in :mod:`mmload.verdict.registry`."""

from __future__ import annotations

from dataclasses import dataclass, field

from mmload.limiter.rate import Documented
from mmload.verdict.measured import Measured
from mmload.verdict.policies import PolicyTally
from mmload.verdict.streams import Unread

HONEST_SHARE = 0.95  # of the cases a header is checked on, the share that must hold


@dataclass(frozen=True)
class Context:
    measured: Measured
    documented: Documented
    tolerance: float
    mattermost: bool  # the target is Mattermost, whose API documentation the warnings cite
    bodies: dict[str, dict[str, int]] = field(default_factory=dict)  # status -> shape -> count
    unread: Unread = field(default_factory=lambda: Unread(0, 0, ""))  # malformed headers
    expected_scope: str = "per-address"  # what the run said the server keys on (--vary-by)
    limited: tuple[int, ...] = (429,)  # the statuses counted as refusals
    policies: PolicyTally = field(default_factory=PolicyTally)  # every IETF policy listed


@dataclass(frozen=True)
class Finding:
    passed: bool | None  # None: the run cannot decide it
    expected: str
    observed: str
    message: str
    severity: str | None = None  # when not the check's own (a finding that is only a warning)


def na(expected: str, why: str) -> Finding:
    """Nothing to decide: the check does not apply to this run (why, in words)."""
    return Finding(None, expected, "-", f"not applicable: {why}")


def undecided(expected: str, why: str, observed: str = "-") -> Finding:
    """It applies, but the run cannot decide it (why, in words)."""
    return Finding(None, expected, observed, f"not decided: {why}")
