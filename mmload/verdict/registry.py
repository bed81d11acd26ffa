"""Every check of a verdict, declared once, in the order a verdict lists them: its id, its
severity, and the function that judges it.

Severity: what the server *enforces* is an error when it is wrong (no limit, another rate or
burst, refusals below the limit, headers that contradict what it does, a dishonest Retry-After);
where the headers merely *mean* something else than the documentation says, a warning.  A
finding may lower its check's severity to a warning (the meaning of a Mattermost header
against its API documentation, a missing Retry-After where no header at all is sent)."""

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


CHECKS: tuple[Spec, ...] = (
    Spec(LIMIT, ERROR, checks.limit_enforced),
    Spec(RATE, ERROR, checks.rate_matches),
    Spec(BURST, ERROR, checks.burst_matches),
    Spec(BELOW, ERROR, below.no_limiting_below),
    Spec("scope-matches", ERROR, checks.scope_matches),
    Spec("one-bucket-per-key", WARNING, checks.one_bucket_per_key),
    Spec("advertised-limit", ERROR, header_checks.advertised_limit),
    Spec("remaining-consistent", ERROR, header_checks.remaining_consistent),
    Spec("each-policy-consistent", ERROR, header_checks.each_policy_consistent),
    Spec("reset-semantics", WARNING, header_checks.reset_semantics),
    Spec("reset-honest", ERROR, honesty.reset_honest),
    Spec(RETRY, ERROR, honesty.retry_after_honest),
    Spec("limited-response-shape", ERROR, header_checks.limited_response_shape),
    Spec("headers-well-formed", WARNING, header_checks.headers_well_formed),
    Spec("mattermost-responses", WARNING, checks.mattermost_responses),
)
IDS = tuple(spec.id for spec in CHECKS)


def judge(c: Context) -> list[Check]:
    """Every check, in order."""
    found = []
    for spec in CHECKS:
        f = spec.judge(c)
        found.append(
            Check(spec.id, f.passed, f.severity or spec.severity, f.expected, f.observed, f.message)
        )
    return found
