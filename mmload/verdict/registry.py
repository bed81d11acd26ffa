"""Every check of a verdict, declared once, in the order a verdict lists them: its id, its
severity, and the function that judges it.

Severity: what the server *enforces* is an error when it is wrong (no limit, another rate or
burst, refusals below the limit, headers that contradict what it does, a dishonest Retry-After);
where the headers merely *mean* something else than the documentation says, a warning.  A
finding may lower its check's severity to a warning (the meaning of a Mattermost header
against its API documentation, a missing Retry-After where no header at all is sent).

``again``: the check is judged again on every later stretch of a long run (see
:func:`mmload.verdict.verify`), because it does not depend on the state the limiter was in when
a stretch began.  The others do (a burst, a refusal early for a full bucket, a Reset read
against a window's start) and are judged on the run's first stretch alone: cut mid-run, their
judgements fail correct window limiters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mmload.verdict import below, checks, header_checks, honesty
from mmload.verdict.findings import Context, Finding
from mmload.verdict.schema import ERROR, WARNING, Check

LIMIT = "limit-enforced"
RATE = "rate-matches-documented"
BURST = "burst-matches-documented"
BELOW = "no-limiting-below-limit"
RETRY = "retry-after-honest"


@dataclass(frozen=True)
class Spec:
    id: str
    severity: str
    judge: Callable[[Context], Finding]
    again: bool = False


CHECKS: tuple[Spec, ...] = (
    Spec(LIMIT, ERROR, checks.limit_enforced, again=True),
    Spec(RATE, ERROR, checks.rate_matches, again=True),
    Spec(BURST, ERROR, checks.burst_matches),
    Spec(BELOW, ERROR, below.no_limiting_below),
    Spec("scope-matches", ERROR, checks.scope_matches),
    Spec("one-bucket-per-key", WARNING, checks.one_bucket_per_key),
    Spec("advertised-limit", ERROR, header_checks.advertised_limit),
    Spec("remaining-consistent", ERROR, header_checks.remaining_consistent, again=True),
    Spec("each-policy-consistent", ERROR, header_checks.each_policy_consistent, again=True),
    Spec("reset-semantics", WARNING, header_checks.reset_semantics),
    Spec("reset-honest", ERROR, honesty.reset_honest),
    Spec(RETRY, ERROR, honesty.retry_after_honest, again=True),
    Spec("limited-response-shape", ERROR, header_checks.limited_response_shape, again=True),
    Spec("headers-well-formed", WARNING, header_checks.headers_well_formed, again=True),
    Spec("mattermost-responses", WARNING, checks.mattermost_responses),
)
IDS = tuple(spec.id for spec in CHECKS)


def judge(c: Context, again: bool = False) -> list[Check]:
    """Every check, in order; with ``again``, only those judged again on a later stretch."""
    found = []
    for spec in CHECKS:
        if again and not spec.again:
            continue
        f = spec.judge(c)
        found.append(
            Check(spec.id, f.passed, f.severity or spec.severity, f.expected, f.observed, f.message)
        )
    return found
