"""The diagnosis of a run from its totals: failed, impaired or left to its verdict, the notes it
adds and the exit code, with nothing it is given changed."""

from __future__ import annotations

import copy

import pytest

from mmload.exitcodes import ExitStatus
from mmload.harness.diagnosis import diagnose, with_verdict
from mmload.results.block import Block
from mmload.results.outages import Outage
from mmload.results.tally import Tally
from tests.support.records import LOGIN, ME, record


def tally_of(*statuses: int, endpoint: str = ME) -> Tally:
    tally = Tally()
    tally.add(Block.from_records(record(1000.0 + k, s, endpoint) for k, s in enumerate(statuses)))
    return tally


def test_a_run_that_could_be_done_is_left_to_its_verdict() -> None:
    found = diagnose(tally_of(200, 200, 429), {}, ["said before"], [], [])
    assert (found.notes, found.reason, found.status) == (["said before"], "", None)


def test_a_run_without_a_successful_login_fails_and_its_notes_stay_as_they_are() -> None:
    found = diagnose(tally_of(500, 500, endpoint=LOGIN), {"stopped: login failed": 2}, [], [], [])
    assert found.failure == "no login succeeded (2 attempts)" and found.impairment == ""
    assert found.status == ExitStatus.RUN_FAILED and found.notes == []


def test_an_impaired_run_notes_its_faults_and_changes_nothing_it_was_given() -> None:
    tally, counters = tally_of(200, *[500] * 9), {"stopped: login failed": 1}
    notes, missing = ["w1 was lost"], ["w1"]
    outages = [Outage(1001, 1010, 9, to_the_end=True)]
    given = copy.deepcopy((tally.by_endpoint, counters, notes, missing))
    found = diagnose(tally, counters, notes, missing, outages)
    assert found.status == ExitStatus.RUN_FAILED and found.failure == ""
    assert found.impairment.startswith("1 worker(s) lost, or silent at the end")
    assert found.notes[0] == "w1 was lost" and len(found.notes) == 3  # the outage, the users
    assert "user(s) stopped before the end" in found.notes[2]
    assert (tally.by_endpoint, counters, notes, missing) == given
    alone = diagnose(tally, counters, [], [], outages)  # without lost workers: the faults say
    assert alone.impairment == "; ".join(alone.notes)


@pytest.mark.parametrize(
    ("code", "verdict", "exits", "says"),
    [
        (None, 0, 0, False),  # a pass exits 0 whatever failed below the threshold
        (3, 0, 3, False),
        (None, 1, 1, False),
        (3, 1, 1, False),
        (None, 4, 4, False),
        (3, 4, 3, False),  # an impaired run's 3 says more
        (None, 2, 3, True),
    ],
)
def test_the_verdicts_exit_code_joins_the_runs(
    code: int | None, verdict: int, exits: int, says: bool
) -> None:
    found, said = with_verdict(code, verdict)
    assert found == exits and bool(said) == says
