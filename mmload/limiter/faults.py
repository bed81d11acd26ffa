"""Documented misbehaviour the reference server can inject, so a verdict can be proven to catch it.

Each fault is one thing real servers get wrong.  Faults that change *what is enforced* are applied
where the limiter is built (``policy``); faults that change *what is advertised* rewrite the
decision after the fact (``advertise``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from mmload.limiter.decision import Decision

FAULTS: dict[str, str] = {
    "no-enforcement": "advertises rate-limit headers but never refuses a request",
    "lax": "enforces twice the advertised per-second rate (same burst)",
    "stuck-remaining": "X-Ratelimit-Remaining never goes down (always Limit - 1)",
    "no-retry-after": "refuses with 429 but sends no Retry-After",
    "bare-429": "refuses with 429 without any rate-limit headers",
    "wrong-reset": "Reset claims a tenth of the real time until the bucket is full again",
    "shared-bucket": "ignores the vary-by settings: every client shares one bucket",
    "errors-2pct": "limits correctly, but every 50th request it admits answers 500 (an "
    "unhealthy backend behind the limiter)",
}
ERROR_EVERY = 50  # errors-2pct: the admitted requests per 500


def check_names(names: Collection[str]) -> None:
    unknown = sorted(set(names) - FAULTS.keys())
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; choose from {', '.join(FAULTS)}")


def advertise(decision: Decision, faults: Collection[str]) -> Decision | None:
    """The decision as the faulty server reports it; ``None`` means: send no rate-limit headers."""
    if "no-enforcement" in faults and decision.limited:
        decision = replace(decision, limited=False, retry_after_ns=-1)
    if decision.limited and "bare-429" in faults:
        return None
    if "stuck-remaining" in faults:
        decision = replace(decision, remaining=decision.limit - 1)
    if "wrong-reset" in faults:
        decision = replace(decision, reset_after_ns=decision.reset_after_ns // 10)
    if "no-retry-after" in faults:
        decision = replace(decision, retry_after_ns=-1)
    return decision
