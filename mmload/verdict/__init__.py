"""The verdict: does the server limit the way it says it does, and the way its documentation says?

Reads only the run folder (``mmload verify`` does it again from disk, also for a killed run's
folder), never imports Locust, and flows one way: read the records, group them into buckets
(:mod:`scope`), measure (:mod:`measured`), judge (:mod:`registry`), then say what it comes to
(:mod:`outcome`, :mod:`diagnose`).  ``verify(folder)`` returns a :class:`Verdict`
(:mod:`schema`); :mod:`output` writes it beside the records.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from mmload import defaults
from mmload.limiter.rate import Documented, Rate
from mmload.results.block import Block
from mmload.results.folder import read_run_or_empty
from mmload.results.records_file import load_records
from mmload.verdict import bypass_checks, notes, outcome, policies, registry
from mmload.verdict.diagnose import diagnose
from mmload.verdict.findings import Context, Unread
from mmload.verdict.measured import Measured, measure_run
from mmload.verdict.schema import FAIL, INCONCLUSIVE, Advertised, Check, Verdict
from mmload.verdict.streams import LIMITED, decided

DEFAULT_TOLERANCE = defaults.TOLERANCE
MALFORMED = "malformed "  # how the collector's header problems begin (mmload.dialects.fields)

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
) -> Verdict:
    """``limited``: the statuses that are refusals (``--limited-status``), None: what the run
    was told, else 429; ``routes``: routes documented with limits of their own."""
    run = read_run_or_empty(folder)
    documented = documented_of(run, limit, burst, routes)
    refusals = limited_of(run, limited)
    block = load_records(folder)
    requests = with_routes(decided(block, refusals), documented)
    measured = measure_run(requests, documented, expected_scope(run))
    context = Context(
        measured,
        documented,
        tolerance,
        is_mattermost(run, expect),
        _bodies(run),
        unread(requests),
        expected_scope(run),
        refusals,
        policies.tally(requests),
    )
    checks = [replace(c, diagnosis=diagnose(c, context)) for c in registry.judge(context)]
    audit = bypass_checks.checks(folder, refusals)  # the bypass scenario's, one per vector
    checks = bypass_checks.explained(checks, audit) + audit
    scenario = str(run.get("scenario") or "")
    wanted = outcome.intent(scenario, documented) + tuple(c.id for c in audit)
    result = outcome.outcome(checks, wanted, strict, len(requests))
    return Verdict(
        outcome=result,
        summary=_summary(result, measured, documented, checks, strict, wanted, len(requests)),
        requests=len(requests),
        scenario=scenario,
        intent=wanted,
        not_verified=outcome.not_verified(checks),
        limited_status=refusals,
        strict=strict,
        measured=measured.part(),
        documented=documented,
        advertised=_advertised(measured),
        checks=tuple(checks),
        notes=tuple(notes.for_run(block, refusals)),
    )


def with_routes(requests: Block, documented: Documented) -> Block:
    """The requests, each marked with the documented route it went to (a text column
    ``route``: "" for the general limit), so that each route's requests are buckets apart."""
    table = ["", *(r.endpoint for r in documented.routes)]
    names = requests.tables["endpoint"]
    of_endpoint = np.array([table.index(n) if n in table else 0 for n in names] or [0])
    requests.codes["route"] = of_endpoint[requests.codes["endpoint"]].astype(np.uint32)
    requests.tables["route"] = table
    return requests


def unread(requests: Block) -> Unread:
    """How many answers had rate-limit headers the collector found malformed."""
    codes, table = requests.codes["error"], requests.tables["error"]
    used, counts = np.unique(codes, return_counts=True)
    found = {
        table[u]: n
        for u, n in zip(used.tolist(), counts.tolist(), strict=True)
        if MALFORMED in table[u]
    }
    example = max(found, key=found.__getitem__, default="")
    shown = "; ".join(p for p in example.split("; ") if p.startswith(MALFORMED))
    return Unread(sum(found.values()), len(requests), shown)


def _advertised(m: Measured) -> Advertised:
    return Advertised(m.dialect or None, m.limit, m.window, m.reset_semantics or None, m.policies)


def enforced_words(m: Measured) -> str:
    """What the server was seen to enforce, in words."""
    refused = any(s.limited.any() for s in m.streams)
    i = m.interval
    if i is not None:
        high = f"{i.high:.3g}" if np.isfinite(i.high) else "∞"
        burst = f", burst {m.burst}" if m.burst is not None else ""
        words = (
            f"enforces {i.rate:.3g}/s ({i.low:.3g}..{high}){burst} ({m.algorithm}, {m.scope.scope})"
        )
        return words + (f": {m.buckets_per_key} buckets per key" if m.buckets_per_key > 1 else "")
    if refused:
        return "refused some requests, too few or too irregular to measure a rate"
    return f"refused nothing at {m.offered_rate:.3g}/s offered to its busiest bucket"


def _summary(
    result: str,
    m: Measured,
    documented: Documented,
    checks: list[Check],
    strict: bool,
    wanted: tuple[str, ...],
    answered: int,
) -> str:
    if not answered:
        return "INCONCLUSIVE: no request was answered"
    head = f"the server {enforced_words(m)}; documented {documented}"
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
