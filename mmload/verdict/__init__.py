"""The verdict: does the server limit the way it says it does, and the way its documentation says?

Reads only the run folder (``mmload verify`` does it again from disk, also for a killed run's
folder), never imports Locust.  ``verify(folder)`` returns a :class:`Verdict`; ``write`` leaves
``verdict.json``, ``verdict.xml`` (JUnit) and ``summary.md`` beside the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmload.limiter.rate import Documented, Rate
from mmload.results.block import Block
from mmload.results.folder import read_run_or_empty
from mmload.results.records import load_records
from mmload.verdict.checks import (
    CHECKS,
    ERROR,
    Check,
    Context,
    Unread,
    mattermost_responses,
    one_bucket_per_key,
    per_node,
    scope_matches,
)
from mmload.verdict.header_checks import HEADER_CHECKS
from mmload.verdict.measured import Measured, measure_run
from mmload.verdict.streams import decided

DEFAULT_TOLERANCE = 0.05
MALFORMED = "malformed "  # how the collector's header problems begin (mmload.dialects.fields)


@dataclass
class Verdict:
    passed: bool
    summary: str
    measured: dict[str, Any]
    documented: dict[str, Any]
    advertised: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    strict: bool = False
    answered: int = 0  # requests the verdict is about

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "summary": self.summary, "measured": self.measured,
            "documented": self.documented, "advertised": self.advertised, "strict": self.strict,
            "requests": self.answered,
            "checks": [c.to_dict() for c in self.checks],
        }  # fmt: skip

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False and c.severity == ERROR]

    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False and c.severity != ERROR]


def _bodies(run: dict[str, Any]) -> dict[str, dict[str, int]]:
    bodies = run.get("error_bodies")
    if not isinstance(bodies, dict):
        return {}
    return {str(k): {str(s): int(n) for s, n in v.items() if isinstance(n, int)}
            for k, v in bodies.items() if isinstance(v, dict)}  # fmt: skip


def _settings(run: dict[str, Any]) -> dict[str, Any]:
    settings = run.get("settings")
    return settings if isinstance(settings, dict) else {}


def documented_of(run: dict[str, Any], limit: str | None, burst: int | None) -> Documented:
    """The command line's documentation where given, else what the run was told: a rate given
    comes with its own burst (none unless given too), a burst alone keeps the run's rate."""
    if limit is not None:
        return Documented.resolve(limit, burst)
    told = _told(run)
    return told if burst is None else Documented(told.per_sec, burst)


def _told(run: dict[str, Any]) -> Documented:
    """The documentation the run was told (run.json); Mattermost's when it does not say."""
    told: Any = _settings(run).get("documented_limit")
    try:
        per_sec = Rate(float(told["per_sec"])).per_sec  # positive and finite, or ValueError
        burst = told.get("burst")
        if burst is not None and (not isinstance(burst, int) or burst < 0):
            raise ValueError(f"burst {burst!r}")
        return Documented(per_sec, burst)
    except (KeyError, TypeError, ValueError):
        return Documented.resolve()


def expected_scope(run: dict[str, Any]) -> str:
    """What the run was told the server keys on (``--vary-by``); Mattermost's default."""
    vary_by = _settings(run).get("vary_by") or "address"
    return {"user": "per-user", "shared": "shared"}.get(vary_by, "per-address")


def is_mattermost(run: dict[str, Any], expect: str) -> bool:
    """Mattermost's API documentation applies: asked for, or the server said it is Mattermost."""
    if expect:
        return expect == "mattermost"
    return bool(run.get("server_version_id"))


def verify(
    folder: Path,
    limit: str | None = None,
    burst: int | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    strict: bool = False,
    expect: str = "",
) -> Verdict:
    run = read_run_or_empty(folder)
    documented = documented_of(run, limit, burst)
    requests = decided(load_records(folder))
    measured = measure_run(requests, documented)
    context = Context(measured, documented, tolerance, is_mattermost(run, expect), _bodies(run),
                      unread(requests))  # fmt: skip
    checks = [check(context) for check in (*CHECKS, *HEADER_CHECKS)]
    checks[4:4] = [scope_matches(context, expected_scope(run)), one_bucket_per_key(context)]
    checks.append(mattermost_responses(context))
    failed = [c for c in checks if c.passed is False and (strict or c.severity == ERROR)]
    return Verdict(
        passed=bool(len(requests)) and not failed,
        summary=_summary(measured, documented, checks, failed, len(requests)),
        measured=measured.to_dict(),
        documented=documented.to_dict(),
        advertised=_advertised(measured),
        checks=checks,
        strict=strict,
        answered=len(requests),
    )


def unread(requests: Block) -> Unread:
    """How many answers had rate-limit headers the collector found malformed."""
    codes, table = requests.codes["error"], requests.tables["error"]
    used, counts = np.unique(codes, return_counts=True)
    found = {table[u]: n for u, n in zip(used.tolist(), counts.tolist(), strict=True)
             if MALFORMED in table[u]}  # fmt: skip
    example = max(found, key=found.__getitem__, default="")
    shown = "; ".join(p for p in example.split("; ") if p.startswith(MALFORMED))
    return Unread(sum(found.values()), len(requests), shown)


def _advertised(m: Measured) -> dict[str, Any]:
    return {"dialect": m.dialect or None, "limit": m.limit, "window": m.window,
            "reset": m.reset_semantics or None}  # fmt: skip


def _summary(
    m: Measured, documented: Documented, checks: list[Check], failed: list[Check], n: int
) -> str:
    if not n:
        return "no verdict: no request was answered"
    refused = any(s.limited.any() for s in m.streams)
    if m.rate is not None:
        burst = f", burst {m.burst}" if m.burst is not None else ""
        enforced = f"enforces {m.rate:.3g}/s{burst} ({m.algorithm}, {m.scope.scope})"
        if m.buckets_per_key > 1:
            enforced += f": {per_node(m)}"
    elif refused:
        enforced = "refused some requests, too few to measure a rate"
    else:
        enforced = f"refused nothing at {m.offered_rate:.3g}/s offered to its busiest bucket"
    warnings = [c for c in checks if c.passed is False and c not in failed]
    if failed:
        names = ", ".join(c.id for c in failed)
        return f"FAIL: the server {enforced}; documented {documented}; failed: {names}"
    note = f"; {len(warnings)} warning(s): {', '.join(c.id for c in warnings)}" if warnings else ""
    return f"PASS: the server {enforced}; documented {documented}{note}"
