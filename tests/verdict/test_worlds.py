"""The verdict held to the real world's conditions (``support.worlds``): a correct server is never
failed, under latency tails, skew, proxies, 503s, several routes, windows off the second,
back-to-back runs; each broken one fails the check that names its defect; and the enforced
rate's interval holds the true rate in at least 95% of 200 random runs, of which the first 100
may be enough (``bench/coverage.py`` prints the misses)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mmload.verdict import verify
from mmload.verdict.schema import ERROR, FAIL, Verdict
from tests.support.synth import Plan, write_folder
from tests.support.worlds import (
    BROKEN,
    CORRECT,
    NGINX_PROBE,
    Coverage,
    World,
    behind_nginx,
    random_runs,
)

FAST_SEEDS = (1,)
MORE_SEEDS = (2,)


def judged(world: World, seed: int, tmp_path: Path) -> tuple[Plan, Verdict]:
    plan = world.plan(seed)
    return plan, verify(write_folder(tmp_path / "run", plan))


def failed_errors(v: Verdict) -> list[str]:
    return [c.id for c in v.checks if c.passed is False and c.severity == ERROR]


def assert_correct(world: World, seed: int, tmp_path: Path) -> None:
    plan, v = judged(world, seed, tmp_path)
    assert v.outcome != FAIL, (world.name, seed, failed_errors(v), v.summary)
    true = plan.true_rate()
    m = v.measured
    if true is not None and m.rate_low is not None:
        high = m.rate_high if m.rate_high is not None else float("inf")
        assert m.rate_low * 0.999 <= true <= high * 1.001, (world.name, seed, m, true)


@pytest.mark.parametrize("world", CORRECT, ids=lambda w: w.name)
@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_a_correct_server_is_not_failed(world: World, seed: int, tmp_path: Path) -> None:
    assert_correct(world, seed, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("world", CORRECT, ids=lambda w: w.name)
@pytest.mark.parametrize("seed", MORE_SEEDS)
def test_a_correct_server_is_not_failed_whatever_the_seed(
    world: World, seed: int, tmp_path: Path
) -> None:
    assert_correct(world, seed, tmp_path)


@pytest.mark.parametrize("world", BROKEN, ids=lambda w: w.name)
def test_a_broken_server_fails_the_check_that_names_its_defect(
    world: World, tmp_path: Path
) -> None:
    _, v = judged(world, 1, tmp_path)
    failed = [c.id for c in v.checks if c.passed is False]
    assert world.fails in failed, (world.name, failed, v.summary)
    check = next(c for c in v.checks if c.id == world.fails)
    if check.severity == ERROR:
        assert v.outcome == FAIL and not v.passed


COVERAGE_RUNS = 200
FIRST_RUNS = 100  # enough when they already leave no doubt


@pytest.mark.slow
def test_the_rate_interval_holds_the_true_rate_in_95_percent_of_random_runs(
    tmp_path: Path,
) -> None:
    """GCRA and each window algorithm, 1/min to 1000/s, random latency, loop and start phase.

    The claim is about 200 runs (about 177 measure a rate; at most 8 of those may miss), taken
    in two stages: the first 100 are enough when at least 80 measured a rate and at most one of
    those missed, else the other 100 run and the claim is held to all 200.  Both stages draw
    the same runs as 200 in one go, and the early pass changes the odds of passing little, by
    the binomial law (about 88 measured runs in the first stage, 89 in the second): a verdict
    whose interval holds the truth in 90% of runs passes 200 runs with probability 0.62%, the
    two stages with 0.69%; at 92%, 5.0% and 5.3%; at 95%, 47.3% and 47.7%.  At the 98.5% that
    bench/coverage.py finds (520 of 528 measured runs), the first stage is enough 62% of the
    time (and every time for this seed, which misses none of its 200)."""
    runs = random_runs(tmp_path)
    found = Coverage()
    for plan, m in itertools.islice(runs, FIRST_RUNS):
        found.add(plan, m)
    if found.measured < 0.8 * FIRST_RUNS or len(found.misses) > 1:
        for plan, m in itertools.islice(runs, COVERAGE_RUNS - FIRST_RUNS):
            found.add(plan, m)
    assert found.measured >= 0.8 * found.runs, f"only {found.measured} runs measured a rate"
    assert found.covered >= 0.95 * found.measured, (found.covered, found.measured, found.misses)


@pytest.mark.parametrize(("status", "named"), [(429, "no 429 said"), (503, "no refusal said")])
def test_nginx_without_retry_after_is_told_in_its_own_refusals(
    status: int, named: str, tmp_path: Path
) -> None:
    """nginx refusing with 503 (the run told so) is not said to have sent 429s."""
    _, v = judged(behind_nginx(status, 100), 1, tmp_path)
    check = next(c for c in v.checks if c.id == "retry-after-honest")
    assert check.passed is False and named in check.message, check.message


def test_logins_beside_one_drained_route_are_not_a_second_bucket(tmp_path: Path) -> None:
    """Without headers, the probe's route got 10/s and so did all requests together: one route
    drained one bucket.  The report drew the documented limit twice over when the logins were
    counted as a bucket of their own."""
    _, v = judged(NGINX_PROBE, 1, tmp_path)
    assert (v.measured.buckets, v.measured.scope) == (1, "per-address"), v.measured
