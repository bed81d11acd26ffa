"""The verdict: does the server limit the way it says it does, and the way its documentation says?

Reads only the run folder (``mmload verify`` does it again from disk, also for a killed run's
folder), never imports Locust, and flows one way: read the records, group them into buckets
(:mod:`scope`), measure (:mod:`measured`), judge (:mod:`registry`), then say what it comes to
(:mod:`outcome`, :mod:`diagnose`), a stretch of records at a time (:mod:`judging`: a long run
in memory bounded by a stretch).  ``verify(folder)`` returns a :class:`Verdict`
(:mod:`schema`); :mod:`output` writes it beside the records.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmload import defaults
from mmload.limiter.rate import Documented, Rate
from mmload.results.folder import read_run_or_empty
from mmload.results.records_file import stretches
from mmload.verdict import bypass_checks, judging, outcome
from mmload.verdict.judging import Judge
from mmload.verdict.schema import FAIL, INCONCLUSIVE, Check, Verdict
from mmload.verdict.streams import LIMITED

DEFAULT_TOLERANCE = defaults.TOLERANCE

__all__ = ["Verdict", "verify"]


def _bodies(run: dict[str, Any]) -> dict[str, dict[str, int]]:
    bodies = run.get("error_bodies")
    if not isinstance(bodies, dict):
        return {}
    return {
        str(k): {str(s): int(n) for s, n in v.items() if isinstance(n, int)}
        for k, v in bodies.items()
        if isinstance(v, dict)
    }


def _settings(run: dict[str, Any]) -> dict[str, Any]:
    settings = run.get("settings")
    return settings if isinstance(settings, dict) else {}


def documented_of(
    run: dict[str, Any], limit: str | None, burst: int | None, routes: tuple[str, ...] = ()
) -> Documented:
    """The command line's documentation where given, else what the run was told: a rate given
    comes with its own burst (none unless given too), a burst alone keeps the run's rate;
    routes given replace the run's."""
    if limit is not None:
        return Documented.resolve(limit, burst, routes)
    told = _told(run)
    if burst is not None:
        told = replace(told, burst=burst)
    return replace(told, routes=Documented.resolve(None, None, routes).routes) if routes else told


def _told(run: dict[str, Any]) -> Documented:
    """The documentation the run was told (run.json); Mattermost's when it does not say."""
    told: Any = _settings(run).get("documented_limit")
    try:
        per_sec = Rate(float(told["per_sec"])).per_sec  # positive and finite, or ValueError
        burst = told.get("burst")
        if burst is not None and (not isinstance(burst, int) or burst < 0):
            raise ValueError(f"burst {burst!r}")
        routes = tuple(f"{r['endpoint']}={float(r['per_sec'])}/s" for r in told.get("routes") or ())
        return Documented.resolve(f"{per_sec}/s", burst, routes)
    except (KeyError, TypeError, ValueError):
        return Documented.resolve()


def limited_of(run: dict[str, Any], given: Collection[int] | None) -> tuple[int, ...]:
    """The statuses that are refusals: given (``--limited-status``), else the run's, else 429."""
    if given:
        return tuple(sorted(set(given)))
    told = _settings(run).get("limited_status")
    if isinstance(told, list) and told and all(isinstance(s, int) for s in told):
        return tuple(sorted(set(told)))
    return LIMITED


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
    limited: Collection[int] | None = None,
    routes: tuple[str, ...] = (),
    head: int = defaults.HEAD_RECORDS,
    stretch: int = defaults.STRETCH_RECORDS,
) -> Verdict:
    """``limited``: the statuses that are refusals (``--limited-status``), None: what the run
    was told, else 429; ``routes``: routes documented with limits of their own.

    A run of up to ``head`` records is judged whole.  A longer one is read in stretches, in
    send order, holding one at a time: the first ``head`` records are judged by every check,
    then every ``stretch`` records again by the checks that do not depend on how a stretch
    began (:data:`registry.CHECKS`' ``again``), so a limiter that loosens, stops or starts
    lying an hour in fails, in memory bounded by a stretch."""
    run = read_run_or_empty(folder)
    documented = documented_of(run, limit, burst, routes)
    refusals = limited_of(run, limited)
    judge = Judge(
        documented,
        tolerance,
        is_mattermost(run, expect),
        _bodies(run),
        expected_scope(run),
        refusals,
    )
    parts = stretches(folder, head, stretch)
    first = judge.first(parts)  # what the verdict keeps of it; its records are let go
    later = judge.later(parts, first)
    checks = judging.merged(first.checks, later)
    answered = first.answered + sum(s.requests for s, _ in later)
    audit = bypass_checks.checks(folder, refusals)  # the bypass scenario's, one per vector
    checks = bypass_checks.explained(checks, audit) + audit
    scenario = str(run.get("scenario") or "")
    wanted = outcome.intent(scenario, documented) + tuple(c.id for c in audit)
    result = outcome.outcome(checks, wanted, strict, answered)
    return Verdict(
        outcome=result,
        summary=_summary(result, first.words, documented, checks, strict, wanted, answered),
        requests=answered,
        scenario=scenario,
        intent=wanted,
        not_verified=outcome.not_verified(checks),
        limited_status=refusals,
        strict=strict,
        measured=first.measured,
        documented=documented,
        advertised=first.advertised,
        checks=tuple(checks),
        notes=first.notes,
        stretches=(first.stretch, *(s for s, _ in later)) if later else (),
    )


def _summary(
    result: str,
    words: str,
    documented: Documented,
    checks: list[Check],
    strict: bool,
    wanted: tuple[str, ...],
    answered: int,
) -> str:
    if not answered:
        return "INCONCLUSIVE: no request was answered"
    head = f"the server {words}; documented {documented}"
    if result == FAIL:
        failed = outcome.failed(checks, strict)
        why = next((c.diagnosis for c in failed if c.diagnosis), "")
        text = f"FAIL: {head}; failed: {', '.join(c.id for c in failed)}"
        return text + (f" ({why})" if why else "")
    undecided = [c for c in checks if c.passed is None and c.id in wanted]
    if result == INCONCLUSIVE:
        reason = undecided[0].message.removeprefix("not decided: ") if undecided else ""
        return f"INCONCLUSIVE: {head}; not decided: {', '.join(c.id for c in undecided)}" + (
            f" ({reason})" if reason else ""
        )
    warnings = [c.id for c in checks if c.passed is False]
    note = f"; {len(warnings)} warning(s): {', '.join(warnings)}" if warnings else ""
    return f"PASS: {head}{note}"
