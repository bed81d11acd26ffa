"""The header checks of the verdict on synthesized run folders (``support.synth``): a Reset or a
Retry-After that says less than the truth fails on every algorithm, a check the run cannot
decide is not applicable, and the Limit is read against what is enforced or documented."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from mmload import dialects
from mmload.cli import main
from mmload.limiter.decision import Decision
from mmload.limiter.rate import Documented
from mmload.results.record import Record
from mmload.server.limiting import ALGORITHMS
from mmload.verdict import Verdict, verify
from mmload.verdict.schema import Check
from tests.support.folders import records_of, synthesized
from tests.support.synth import START, Plan, simulate, write_folder

HEADERS = [d for d in dialects.DIALECTS if d != "none"]
WINDOWS = [a for a in ALGORITHMS if a != "gcra"]


def judge(tmp_path: Path, plan: Plan, records: list[Record] | None = None, **kw: object) -> Verdict:
    """The verdict on the plan's run, or on ``records`` as the run of the plan."""
    folder = tmp_path / "run"
    if records is None:
        synthesized(plan, folder)
    else:
        write_folder(folder, plan, records)
    return verify(folder, **kw)  # type: ignore[arg-type]


def check(v: Verdict, check_id: str) -> Check:
    return next(c for c in v.checks if c.id == check_id)


def edited(plan: Plan, edit: Callable[[Record], Record]) -> list[Record]:
    """The plan's records as another server would have answered them."""
    return [edit(r) for r in records_of(plan)]


def as_mattermost(folder: Path) -> Path:
    """The run's server said it is Mattermost (X-Version-Id)."""
    run = json.loads((folder / "run.json").read_text())
    run["server_version_id"] = "10.5.0.1234.abcd.false"
    (folder / "run.json").write_text(json.dumps(run))
    return folder


def window_plan(algorithm: str, dialect: str, **kw: object) -> Plan:
    """A 3 s window of 30 (burst 20) documented as 10/s, as in test_verdict.  The sliding
    window counter's Reset under a hammer is the time its previous window's count takes to
    fall by one (0.1 s), so there a wrong Reset shows only with a longer window (burst 100)."""
    burst = 100 if algorithm == "sliding-window" else 20
    kw = {"seconds": 10.0, "per_user": 50.0, **kw}  # enough to judge Reset, in half the time
    return Plan(
        algorithm=algorithm,
        dialect=dialect,
        burst=burst,
        documented=Documented(10, burst if algorithm == "gcra" else None),
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("dialect", HEADERS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_reset_a_tenth_of_the_truth_fails_on_every_algorithm(
    tmp_path: Path, algorithm: str, dialect: str
) -> None:
    """A Reset a tenth of the truth (1 where a 3 s window's is due) fails reset-honest, and the
    run, on every algorithm and dialect, while the true Reset passes: the tolerance is tight
    enough (a 2.5 s one would let it through)."""
    wrong = judge(tmp_path / "wrong", window_plan(algorithm, dialect, faults=("wrong-reset",)))
    assert check(wrong, "reset-honest").passed is False, check(wrong, "reset-honest")
    assert not wrong.passed
    right = check(judge(tmp_path / "right", window_plan(algorithm, dialect)), "reset-honest")
    assert right.passed is True, right


@contextmanager
def retry_after_divided(by: int) -> Iterator[None]:
    """Every server the block builds sends Retry-After ``by`` times shorter than the truth."""
    real = dialects.render

    def render(dialect: str, d: Decision, wall_now: float, window_s: int) -> dialects.Headers:
        if d.retry_after_ns >= 0:
            d = replace(d, retry_after_ns=d.retry_after_ns // by)
        return real(dialect, d, wall_now, window_s)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dialects, "render", render)
        yield


@pytest.mark.parametrize("algorithm", WINDOWS)
def test_polite_clients_find_a_too_short_retry_after(tmp_path: Path, algorithm: str) -> None:
    """A window's Retry-After of 1 s where up to 3 were due: the polite client that comes back
    first is refused again, and retry-after-honest fails saying it was "only" so long.  Polite
    clients send exactly at the due time, so a refusal then counts as evidence, not noise.
    (GCRA's Retry-After at 10/s is always 1 s, and a tenth of it too: nothing to see there.)"""
    plan = window_plan(algorithm, "mattermost", scenario="polite", seconds=15)
    with retry_after_divided(10):
        records = simulate(plan)
    short = check(judge(tmp_path, plan, records), "retry-after-honest")
    assert short.passed is False and "only" in short.message, short


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_polite_clients_find_an_honest_retry_after(tmp_path: Path, algorithm: str) -> None:
    plan = Plan(
        algorithm=algorithm,
        burst=20,
        scenario="polite",
        seconds=15,
        documented=Documented(10, 20 if algorithm == "gcra" else None),
    )
    honest = check(judge(tmp_path, plan), "retry-after-honest")
    assert honest.passed is True, honest


def test_what_a_run_cannot_decide_is_not_applicable(tmp_path: Path) -> None:
    hammer = judge(tmp_path / "hammer", Plan())
    retry = check(hammer, "retry-after-honest")
    assert retry.passed is None and "polite" in retry.message  # undecided
    generic = verify(tmp_path / "hammer" / "run", expect="generic")
    assert check(generic, "reset-semantics").passed is None  # nothing expected
    ietf = check(
        judge(tmp_path / "ietf", Plan(dialect="ietf"), expect="generic"), "reset-semantics"
    )
    assert ietf.passed is True and "IETF" in ietf.expected  # the draft says: a delta
    steady = judge(tmp_path / "steady", Plan(scenario="steady", documented=Documented(10, None)))
    limit = check(steady, "advertised-limit")  # 101 is not 10/s; no burst documented
    assert limit.passed is None and "no rate was measured" in limit.message, limit


@pytest.mark.parametrize("dialect", ["mattermost", "epoch"])
def test_the_2015_limit_agrees_with_the_api_doc_without_a_measured_rate(
    tmp_path: Path, dialect: str
) -> None:
    """The 2015 limiter (a window of 1 s, Limit 10) under steady load: nothing refused, so no
    rate measured.  X-Ratelimit-Limit 10 agrees with the documented 10/s rather than being a
    warning that would fail --strict; with an epoch Reset, as the API doc says, --strict
    passes."""
    plan = Plan(algorithm="fixed-window", dialect=dialect, burst=0, scenario="steady")
    folder = as_mattermost(synthesized(plan, tmp_path / "run"))
    v = verify(folder)
    limit = check(v, "advertised-limit")
    assert limit.passed is True and "documented 10/s" in limit.message, limit
    if dialect == "epoch":  # Reset an epoch too, as the API doc says: nothing to warn about
        assert verify(folder, strict=True).passed, v.summary


def test_without_a_measured_rate_the_limit_is_read_against_the_documented_burst(
    tmp_path: Path,
) -> None:
    folder = synthesized(Plan(scenario="steady"), tmp_path / "run")  # 101 = burst 100 + 1
    generic = check(verify(folder, expect="generic"), "advertised-limit")
    assert generic.passed is True and "documented burst capacity" in generic.message, generic
    doc = check(verify(as_mattermost(folder)), "advertised-limit")
    assert (doc.passed, doc.severity) == (False, "warning") and "burst capacity" in doc.message


def test_a_429_without_some_of_the_headers_fails_its_shape(tmp_path: Path) -> None:
    """A 429 without some of the headers (here Remaining and Reset) fails
    limited-response-shape, naming the missing ones; a 429 with all of them passes."""
    plan = Plan()
    partial = edited(
        plan, lambda r: r._replace(remaining=None, reset=None) if r.status == 429 else r
    )
    shape = check(judge(tmp_path, plan, partial), "limited-response-shape")
    assert shape.passed is False and "Remaining, Reset" in shape.observed, shape
    assert check(judge(tmp_path / "whole", plan), "limited-response-shape").passed is True


def test_a_documented_burst_alone_keeps_the_run_s_rate(tmp_path: Path) -> None:
    """``--documented-burst 50`` alone replaces only the burst: the run's documented 20/s
    stays, so in the verdict and verdict.json the rate check passes and the burst check
    fails."""
    plan = Plan(per_sec=20, documented=Documented(20, 100))
    folder = synthesized(plan, tmp_path / "run")
    assert verify(folder, burst=50).documented == Documented(20, 50)
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify", str(folder), "--documented-burst", "50"], out, err) == 1, err.getvalue()
    written = json.loads((folder / "verdict.json").read_text())
    assert written["documented"] == {"per_sec": 20, "burst": 50, "routes": []}
    by_id = {c["id"]: c["passed"] for c in written["checks"]}
    assert by_id["rate-matches-documented"] is True and by_id["burst-matches-documented"] is False


@pytest.mark.parametrize("ahead", [1000.0 - START, 3600.0])
def test_an_epoch_reset_is_read_against_the_server_s_date(tmp_path: Path, ahead: float) -> None:
    """A server whose clock is wrong (in 1970, or an hour ahead) sends an epoch Reset near its
    own Date.  It is read as an epoch against that Date, and honest, even below 10^9 (a Reset
    of 1003); the mattermost dialect's Reset stays a delta."""

    def skewed(r: Record) -> Record:
        epoch = r.dialect == "epoch"
        return r._replace(
            reset=r.reset + ahead if epoch and r.reset else r.reset, date=r.date and r.date + ahead
        )

    for dialect, semantics in (("epoch", "epoch"), ("mattermost", "delta")):
        plan = Plan(dialect=dialect)
        v = judge(tmp_path / dialect, plan, edited(plan, skewed))
        assert v.measured.reset_semantics == semantics, v.measured
        assert check(v, "reset-honest").passed is True, check(v, "reset-honest")


def test_a_limit_that_changes_within_a_key_fails(tmp_path: Path) -> None:
    plan = Plan()
    flip = edited(plan, lambda r: r._replace(limit=50.0) if int(r.sent * 10) % 2 else r)
    limit = check(judge(tmp_path, plan, flip), "advertised-limit")
    assert (limit.passed, limit.severity) == (False, "error") and "changes" in limit.message


@pytest.mark.parametrize(("dialect", "shown"), [("ietf", "37 per 11 s"), ("mattermost", "5")])
def test_a_limit_that_contradicts_what_is_enforced_fails(
    tmp_path: Path, dialect: str, shown: str
) -> None:
    """10/s with 101 at once, advertised as 37 per 11 s (neither rate nor capacity), or as 5
    with no window (no quota of any window lets 101 through at once)."""
    plan = Plan(dialect=dialect)
    told = float(shown.split()[0])
    v = judge(tmp_path, plan, edited(plan, lambda r: r._replace(limit=told)))
    limit = check(v, "advertised-limit")
    assert (limit.passed, limit.severity, limit.observed) == (False, "error", shown), limit
    assert not v.passed
