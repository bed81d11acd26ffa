"""A long run is judged a stretch at a time: its first stretch by every check, each later one by
the checks that do not depend on how it began, holding one stretch in memory."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mmload import defaults
from mmload.results.block import Block
from mmload.results.folder import RECORDS_BIN, RUN_JSON
from mmload.results.records_file import RecordsWriter, load_records, stretches
from mmload.verdict import output, registry, verify
from mmload.verdict.judging import MIN_SECONDS, Judge, clock
from mmload.verdict.schema import Verdict, read
from tests.support import worlds
from tests.support.folders import synthesized
from tests.support.synth import Plan, simulate, write_folder

PART = 150.0  # seconds each half of a stitched run lasts


def _half(plan: Plan, offset: float) -> Block:
    """A plan's records moved ``offset`` seconds on; after the first half its users are logged
    in already and its buckets drained, as the first half left them."""
    if offset:
        plan = replace(plan, prior_requests=plan.burst + 1, prior_gap=-1.0)
    block = Block.from_records(simulate(plan))
    if offset:
        logins = [i for i, e in enumerate(block.tables["endpoint"]) if e.endswith("/login")]
        block = block.take(~np.isin(block.codes["endpoint"], logins))
    block.numbers["sent"] = block.numbers["sent"] + offset
    date = block.numbers["date"]
    block.numbers["date"] = date + offset * (date > 1e9)
    return block


def stitched(folder: Path, second: Plan) -> tuple[Path, int]:
    """A 5-minute run: a correct GCRA server for its first half, ``second`` for the rest."""
    first = Plan(users=2, per_user=30.0, seconds=PART, seed=3)
    a, b = _half(first, 0.0), _half(replace(second, seed=4), PART)
    write_folder(folder, first, records=list(Block.concat([a, b]).records()))
    return folder, len(a)


def test_a_limiter_that_loosens_half_way_fails_from_when_it_did(tmp_path: Path) -> None:
    lax = Plan(users=2, per_user=30.0, seconds=PART, faults=("lax",))
    folder, head = stitched(tmp_path / "run", lax)
    whole = verify(folder)  # the first half alone would pass; the whole run's reading is unsure
    v = verify(folder, head=head, stretch=(len(load_records(folder)) - head) // 2)
    assert v.outcome == "fail"
    rate = v.check("rate-matches-documented")
    assert rate.passed is False
    assert "later stretches, the first from 0:02:" in rate.message, rate.message
    assert [s.judged for s in v.stretches] == [True, True, True]
    assert "rate-matches-documented" not in v.stretches[0].failed
    assert all("rate-matches-documented" in s.failed for s in v.stretches[1:])
    later = v.stretches[1]
    assert later.rate_low is not None and later.rate_low > 15, later  # lax: about twice 10/s
    assert whole.check("rate-matches-documented").passed is not True


def test_a_correct_limiter_passes_every_stretch(tmp_path: Path) -> None:
    same = Plan(users=2, per_user=30.0, seconds=PART)
    folder, head = stitched(tmp_path / "run", same)
    v = verify(folder, head=head, stretch=(len(load_records(folder)) - head) // 2)
    assert v.outcome == "pass", v.summary
    assert len(v.stretches) == 3 and all(s.judged and not s.failed for s in v.stretches)
    for s in v.stretches:
        assert s.rate_low is not None and s.rate_high is not None
        assert s.rate_low <= 10.0 <= s.rate_high
    assert v.requests == sum(s.requests for s in v.stretches)
    # verdict.json keeps them, and an older verdict without them reads as judged whole
    data = json.loads(json.dumps(v.to_dict()))
    assert Verdict.from_dict(data).stretches == v.stretches
    del data["stretches"]
    assert Verdict.from_dict(data).stretches == ()


def test_a_tail_shorter_than_a_minute_is_listed_but_not_judged(tmp_path: Path) -> None:
    folder, head = stitched(tmp_path / "run", Plan(users=2, per_user=30.0, seconds=PART))
    n = len(load_records(folder))
    v = verify(folder, head=head, stretch=n - head - 300)  # the last ~5 s of requests
    tail = v.stretches[-1]
    assert not tail.judged and tail.end_s - tail.start_s < MIN_SECONDS
    assert v.requests == n


def test_a_run_that_fits_one_stretch_is_judged_whole(tmp_path: Path) -> None:
    """The first stretch of a run is judged exactly as the whole run's records in memory are."""
    plan = Plan(users=4, per_user=50.0, seconds=20.0, algorithm="sliding-window")
    folder = write_folder(tmp_path / "run", plan)
    v = verify(folder)
    judge = Judge(v.documented, 0.05, False, {}, "per-address", (429,))
    whole = judge.first(iter([load_records(folder)]))
    assert v.stretches == ()
    assert list(v.checks) == whole.checks
    assert v.measured == whole.measured and v.requests == whole.answered


def test_only_checks_independent_of_a_stretch_s_start_are_judged_again() -> None:
    """Cut mid-run, a burst, early refusals and a window's Reset are misread (they fail correct
    window limiters); these must not be judged again."""
    again = {s.id for s in registry.CHECKS if s.again}
    assert again.isdisjoint(
        {"burst-matches-documented", "no-limiting-below-limit", "reset-honest", "scope-matches"}
    )
    assert {"limit-enforced", "rate-matches-documented", "remaining-consistent"} <= again


def test_stretches_hold_every_record_once_in_send_order(tmp_path: Path) -> None:
    plan = Plan(users=3, per_user=10.0, seconds=40.0)
    block = Block.from_records(simulate(plan))
    answered = block.numbers["sent"] + block.numbers["latency_ms"] / 1e3
    block = block.take(np.argsort(answered, kind="stable"))  # written as answers arrive
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / RUN_JSON).write_text('{"settings": {"request_timeout": 1}}')  # 11 s held back
    writer = RecordsWriter(folder / RECORDS_BIN, 10**9)
    for a in range(0, len(block), 97):
        writer.add_block(block.take(slice(a, a + 97)))
    writer.close()
    parts = list(stretches(folder, 500, 300))
    sizes = [len(p) for p in parts]
    assert sizes[0] == 500 and all(s == 300 for s in sizes[1:-1]), sizes
    assert 0 < sizes[-1] <= 300
    sent = np.concatenate([p.numbers["sent"] for p in parts])
    assert np.array_equal(sent, np.sort(block.numbers["sent"]))
    assert np.array_equal(sent, load_records(folder).numbers["sent"])


@pytest.mark.parametrize("seconds", [59.0, 3599.0, 3661.5])
def test_a_time_into_the_run_reads_as_a_clock(seconds: float) -> None:
    assert clock(seconds) == {59.0: "0:00:59", 3599.0: "0:59:59", 3661.5: "1:01:01"}[seconds]


def test_verify_writes_the_stretches_it_judged(tmp_path: Path) -> None:
    folder, head = stitched(tmp_path / "run", Plan(users=2, per_user=30.0, seconds=PART))
    v = verify(folder, head=head, stretch=10**9)
    output.write(folder, v)
    assert read(folder) == v and len(v.stretches) == 2


@pytest.mark.parametrize("world", [w.name for w in (*worlds.CORRECT, *worlds.BROKEN)])
def test_every_world_is_judged_from_the_very_records_the_in_memory_path_reads(
    tmp_path: Path, world: str
) -> None:
    """The streamed reading hands the verdict the same rows, in the same order, with the same
    text, as reading the whole folder into memory: so the same verdict (a run up to
    HEAD_RECORDS is one stretch, judged whole)."""
    folder = synthesized(worlds.by_name(world).plan(1), tmp_path / "run")
    parts = list(stretches(folder, defaults.HEAD_RECORDS, defaults.STRETCH_RECORDS))
    whole = load_records(folder)
    assert len(parts) == 1 and len(parts[0]) == len(whole)
    for name, column in whole.numbers.items():
        assert np.array_equal(parts[0].numbers[name], column, equal_nan=True), name
    for name in whole.codes:
        assert (parts[0].text(name) == whole.text(name)).all(), name
