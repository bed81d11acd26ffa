"""The verdict held to the real world's conditions (``tests.worlds``): a correct server is never
failed, under latency tails, skew, proxies, 503s, several routes, windows off the second,
back-to-back runs; each broken one fails the check that names its defect; and the enforced
rate's interval holds the true rate in at least 95% of a few hundred random runs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mmload.limiter.rate import Documented
from mmload.verdict import verify
from mmload.verdict.schema import ERROR, FAIL, Verdict
from tests.synth import Plan, write_folder
from tests.synth_world import Leg, Network
from tests.worlds import BROKEN, CORRECT, World

FAST_SEEDS = (1,)
MORE_SEEDS = (2, 3, 4)


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


# -- coverage: the interval holds the truth ----------------------------------------------------

ALGORITHMS = ("gcra", "fixed-window", "moving-window", "sliding-window")
RUNS = 240


def random_plan(rng: random.Random, i: int) -> Plan:
    """A hammer on a random limiter (1/min to 1000/s), behind a random network, starting at a
    random phase, long enough for a few dozen acceptances and small enough to simulate fast."""
    per_sec = 10 ** rng.uniform(-1.78, 3.0)  # 1/min .. 1000/s
    algorithm = rng.choice(ALGORITHMS)
    burst = rng.choice((0, 1, 5, 20, 100)) if algorithm == "gcra" else max(1, round(per_sec))
    burst = min(burst, max(1, round(per_sec * 5)))
    seconds = min(max(40 / per_sec, 5.0), 120.0)
    per_user = min(max(4 * per_sec, 5.0), 3000.0)
    per_user = min(per_user, 12_000 / seconds / 2)  # at most ~12k requests a run
    ms = rng.choice((0.5, 2.0, 20.0))
    network = Network(up=Leg(ms, ms * 4, floor_ms=ms / 4), down=Leg(ms, ms * 4, floor_ms=ms / 4))
    return Plan(algorithm=algorithm, per_sec=per_sec, burst=burst, seconds=seconds, users=2,
                per_user=max(per_user, 2 * per_sec), seed=i, start_phase=rng.random(),
                network=network, closed_loop=rng.random() < 0.5,
                documented=Documented(per_sec, burst if algorithm == "gcra" else None))  # fmt: skip


@pytest.mark.slow
def test_the_rate_interval_holds_the_true_rate_in_95_percent_of_random_runs(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261204)
    covered, measured, misses = 0, 0, []
    for i in range(RUNS):
        plan = random_plan(rng, i)
        v = verify(write_folder(tmp_path / f"run{i}", plan))
        m, true = v.measured, plan.true_rate()
        assert true is not None
        if m.rate_low is None:
            continue
        measured += 1
        high = m.rate_high if m.rate_high is not None else float("inf")
        if m.rate_low * 0.999 <= true <= high * 1.001:
            covered += 1
        else:
            misses.append((plan.algorithm, round(plan.per_sec, 3), plan.burst, m.rate_low,
                           m.rate_high, round(true, 3)))  # fmt: skip
    assert measured >= 0.8 * RUNS, f"only {measured} of {RUNS} runs measured a rate"
    assert covered >= 0.95 * measured, f"{covered} of {measured} covered; missed: {misses}"
