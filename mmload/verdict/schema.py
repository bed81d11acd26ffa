"""``verdict.json`` as types: one dataclass per part, written and read here alone.

The verdict returns a :class:`Verdict`; ``mmload verify`` writes it with :func:`write_json`, and
the report and compare read it back with :func:`read` (an older file without ``outcome`` or the
newer parts reads too: what it lacks takes its default).  Nobody else spells its keys.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from mmload.limiter.rate import Documented
from mmload.results.folder import write_json as _write_json

VERDICT_JSON = "verdict.json"
PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
OUTCOMES = (PASS, FAIL, INCONCLUSIVE)
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Check:
    id: str
    passed: bool | None  # None: the run cannot decide it
    severity: str  # error or warning
    expected: str
    observed: str
    message: str
    diagnosis: str = ""  # when it failed: the most likely cause, in one sentence


@dataclass(frozen=True)
class Policy:
    """An IETF ``RateLimit-Policy`` item a response carried."""

    name: str
    quota: float
    window: float | None = None


@dataclass(frozen=True)
class Advertised:
    dialect: str | None = None
    limit: float | None = None
    window: float | None = None
    reset: str | None = None  # delta or epoch
    policies: tuple[Policy, ...] = ()


@dataclass(frozen=True)
class Measured:
    rate_per_s: float | None = None
    rate_low: float | None = None  # the interval the rate surely lies in
    rate_high: float | None = None
    rate_uncertainty: float | None = None  # half its width
    saturated_seconds: float = 0.0  # the time the rate was measured over
    burst: int | None = None  # what went through at once beyond the rate, less the one
    burst_low: int | None = None
    burst_high: int | None = None
    bucket_full: bool | None = None  # a bucket was shown full (None: nothing says)
    scope: str = "unknown"
    scope_evidence: str = ""
    scope_alike: tuple[str, ...] = ()  # scopes these clients cannot tell the found one from
    per_route: bool = False  # each route has buckets of its own
    buckets: int = 0
    buckets_per_key: int = 1
    algorithm: str = "unknown"
    model_agreement: float | None = None
    reset_semantics: str = "none"
    offered_rate_per_s: float = 0.0
    fresh_burst: int | None = None


@dataclass(frozen=True)
class Stretch:
    """A stretch of a long run's records in send order, judged on its own: the first by every
    check, each later one by those that do not depend on how it began (its failures fail the
    run's check too).  Times are seconds from the run's first request."""

    start_s: float
    end_s: float
    requests: int
    refused: int
    rate_per_s: float | None = None  # what its busiest buckets enforced, and the interval
    rate_low: float | None = None
    rate_high: float | None = None
    failed: tuple[str, ...] = ()  # the checks that failed on it
    judged: bool = True  # False: too short to judge on its own (the run's tail)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # pass, fail or inconclusive
    summary: str
    requests: int = 0  # answered requests the verdict is about
    scenario: str = ""
    intent: tuple[str, ...] = ()  # the checks the scenario sets out to decide
    not_verified: tuple[str, ...] = ()  # checks the run could not decide
    limited_status: tuple[int, ...] = (429,)
    strict: bool = False
    measured: Measured = field(default_factory=Measured)
    documented: Documented = field(default_factory=Documented.resolve)  # Mattermost's defaults
    advertised: Advertised = field(default_factory=Advertised)
    checks: tuple[Check, ...] = ()
    notes: tuple[str, ...] = ()  # what else a reader should know, in sentences
    stretches: tuple[Stretch, ...] = ()  # a long run's, in order (none: judged whole)

    @property
    def passed(self) -> bool:
        return self.outcome == PASS

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False and c.severity == ERROR]

    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False and c.severity != ERROR]

    def check(self, check_id: str) -> Check:
        return next(c for c in self.checks if c.id == check_id)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        data = dict(data)
        if data.get("outcome") not in OUTCOMES:  # written before there were three
            data["outcome"] = PASS if data.get("passed") else FAIL
        return _build(cls, data)


T = TypeVar("T")


def _build(cls: type[T], data: Any) -> T:
    """A dataclass from JSON data: nested parts built too, lists as tuples, unknown keys and
    values of the wrong kind left out (their defaults stand)."""
    hints = typing.get_type_hints(cls)
    given = data if isinstance(data, dict) else {}
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in given:
            value = _value(hints[f.name], given[f.name])
            if value is not _WRONG:
                kwargs[f.name] = value
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ValueError(f"verdict.json lacks {f.name!r}")
    return cls(**kwargs)


_WRONG = object()


def _value(hint: Any, value: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if is_dataclass(hint):
        return _build(hint, value) if isinstance(value, dict) else _WRONG  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return _WRONG
        items = [_value(args[0], v) for v in value]
        return tuple(v for v in items if v is not _WRONG)
    if hint is float:
        return float(value) if isinstance(value, int | float) and value is not True else _WRONG
    if hint is int or hint is bool or hint is str:
        return value if type(value) is hint else _WRONG
    return value


def write_json(folder: Path, verdict: Verdict) -> None:
    _write_json(folder / VERDICT_JSON, verdict.to_dict())


def read(folder: Path) -> Verdict | None:
    """The folder's verdict, or None when it has none (or one that cannot be read)."""
    try:
        data = json.loads((folder / VERDICT_JSON).read_text())
        return Verdict.from_dict(data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None
