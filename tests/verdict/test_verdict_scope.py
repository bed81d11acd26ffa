"""The verdict's scope, buckets per key and rate across the reference server's keyings, source
addresses, faults and the probe scenario, on synthesized run folders (``support.synth``: the
server's own limiter and dialects on a virtual clock, no sockets, no sleeps)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mmload.dialects import DIALECTS
from mmload.limiter.faults import FAULTS
from mmload.server.limiting import ALGORITHMS
from mmload.verdict import Verdict, verify
from mmload.verdict.output import SUMMARY_MD, VERDICT_JSON, VERDICT_XML, write
from tests.support.folders import synthesized
from tests.support.synth import ME, PROBE_EXTRA, START, Plan, simulate
from tests.support.worlds import correct, quick, shorter

# faults of the server around a correct limiter (its answers, not its decisions): a pass
NOT_THE_LIMITERS = {"errors-2pct"}


def judge(tmp_path: Path, plan: Plan) -> Verdict:
    return verify(synthesized(plan, tmp_path / "run"))


def check(v: Verdict, check_id: str) -> bool | None:
    return next(c.passed for c in v.checks if c.id == check_id)


def failed(v: Verdict) -> set[str]:
    return {c.id for c in v.checks if c.passed is False}


def assert_correct(v: Verdict, scope: str) -> None:
    assert v.passed, v.summary
    rate = v.measured.rate_per_s
    assert rate is not None and abs(rate - 10) <= 0.5, v.measured
    assert v.measured.scope == scope and check(v, "scope-matches") is True, v.measured


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_per_address_limiting_without_headers_passes(tmp_path: Path, algorithm: str) -> None:
    """nginx's ``limit_req`` keyed on the client address, from two addresses: the correct server
    passes, its 10/s measured per address (each address got its own), not 20/s for everybody
    together."""
    v = judge(tmp_path, replace(correct(algorithm, "none", "address"), sources=2))
    assert_correct(v, "per-address")
    assert "each address got" in v.measured.scope_evidence


def _dialect(k: int) -> str:
    """The dialects in turn, so that a few cases cover them all."""
    return DIALECTS[k % len(DIALECTS)]


# (algorithm, dialect, the server's vary-by, source addresses, the scope found)
MORE_SERVERS = [
    case
    for k, algorithm in enumerate(ALGORITHMS)
    for case in (
        (algorithm, _dialect(k), "address", 2, "per-address"),
        # one bucket for everybody (--vary-by shared): from one address that is the
        # address's own, from two it is seen shared
        (algorithm, _dialect(k + 1), "none", 1, "per-address"),
        (algorithm, _dialect(k + 2), "none", 2, "shared"),
        (algorithm, _dialect(k + 2), "header:Authorization", 1, "per-user"),
        (algorithm, _dialect(k + 3), "header:User-Agent", 2, "per-address"),
    )
]


@pytest.mark.parametrize(("algorithm", "dialect", "vary_by", "sources", "scope"), MORE_SERVERS)
def test_more_correct_servers_pass(
    tmp_path: Path, algorithm: str, dialect: str, vary_by: str, sources: int, scope: str
) -> None:
    """The keyings and source counts ``test_a_correct_server_passes`` leaves out."""
    plan = replace(correct(algorithm, dialect, "address"), vary_by=vary_by, sources=sources)
    assert_correct(judge(tmp_path, shorter(plan)), scope)


@pytest.mark.parametrize("dialect", ["mattermost", "ietf", "none"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_one_bucket_for_several_addresses_is_not_per_address(
    tmp_path: Path, algorithm: str, dialect: str
) -> None:
    """The shared-bucket fault, the run expecting per-address, from two addresses: the scope is
    found shared, with or without headers, and scope-matches alone fails the run."""
    plan = replace(correct(algorithm, dialect, "address"), sources=2, faults=("shared-bucket",))
    v = judge(tmp_path, quick(plan))
    assert not v.passed and failed(v) == {"scope-matches"}, v.summary
    assert v.measured.scope == "shared"


def test_from_one_address_a_shared_bucket_is_the_address_s_own(tmp_path: Path) -> None:
    """What cannot be told apart is not held against the server; from two addresses, a server
    keyed on nothing (vary-by none) where the run expects per address is caught like the
    fault, and one expected shared (--vary-by shared) but keyed per address too."""
    assert judge(tmp_path / "one", Plan(faults=("shared-bucket",))).passed
    v = judge(tmp_path / "two", Plan(vary_by="none", sources=2, dialect="none", told="address"))
    assert failed(v) == {"scope-matches"} and v.measured.scope == "shared", v.summary
    v = judge(tmp_path / "three", Plan(sources=2, told="shared"))
    assert failed(v) == {"scope-matches"} and v.measured.scope == "per-address", v.summary
    four = judge(tmp_path / "four", Plan(told="shared"))  # one address: the same bucket
    assert four.passed and four.measured.scope_alike == ("shared",), four.measured


@pytest.mark.parametrize("dialect", ["mattermost", "none"])
@pytest.mark.parametrize("vary_by", ["user", "address"])
def test_a_user_per_address_cannot_tell_per_user_from_per_address(
    tmp_path: Path, vary_by: str, dialect: str
) -> None:
    """Each user from an address of its own: the same buckets either way, so the scope check is
    not applicable rather than a false alarm when the run expected the other one."""
    plan = Plan(vary_by=vary_by, dialect=dialect, users=2, sources=2)
    for told in ("user", "address"):
        folder = synthesized(plan, tmp_path / told)
        run = json.loads((folder / "run.json").read_text())
        run["settings"]["vary_by"] = told
        (folder / "run.json").write_text(json.dumps(run))
        v = verify(folder)
        assert v.passed and check(v, "scope-matches") is None, v.summary


def test_undecided_buckets_per_key_is_not_applicable_everywhere(tmp_path: Path) -> None:
    """A steady run below the limit: nothing drained, so nothing tells how many buckets serve a
    key.  ``one-bucket-per-key`` is undecided, not passed, in the verdict, verdict.json, the
    JUnit XML (skipped) and the summary, and the run passes; a hammer decides it."""
    folder = synthesized(Plan(scenario="steady"), tmp_path / "run")
    v = verify(folder)
    assert v.passed and check(v, "one-bucket-per-key") is None, v.summary
    write(folder, v)
    data = json.loads((folder / VERDICT_JSON).read_text())
    assert data["passed"] is True
    assert next(c for c in data["checks"] if c["id"] == "one-bucket-per-key")["passed"] is None
    case = next(
        c
        for c in ET.fromstring((folder / VERDICT_XML).read_text()).iter("testcase")
        if c.get("name") == "one-bucket-per-key"
    )
    assert case.find("skipped") is not None and case.find("failure") is None
    assert "| one-bucket-per-key | undecided |" in (folder / SUMMARY_MD).read_text()
    assert check(judge(tmp_path / "hammer", Plan()), "one-bucket-per-key") is True


# faults a server speaking no rate-limit header cannot show: the headers they falsify are not
# sent, so the run is exactly a correct server's
UNSEEN_WITHOUT_HEADERS = {"stuck-remaining", "wrong-reset"}
# without any rate-limit header, no Retry-After either is nginx's way: a warning (RFC 6585)
WARNED_WITHOUT_HEADERS = {"no-retry-after", "bare-429"}


# every fault on every algorithm, each with and without headers on alternate algorithms
FAULT_PAIRS = [
    (fault, algorithm, ("mattermost", "none")[(f + a) % 2])
    for f, fault in enumerate(f for f in FAULTS if f not in NOT_THE_LIMITERS)
    for a, algorithm in enumerate(ALGORITHMS)
]


@pytest.mark.parametrize(("fault", "algorithm", "dialect"), FAULT_PAIRS)
def test_every_fault_on_every_algorithm(
    tmp_path: Path, fault: str, algorithm: str, dialect: str
) -> None:
    vary_by = "user" if fault == "shared-bucket" else "address"
    plan = replace(correct(algorithm, dialect, vary_by), faults=(fault,))
    if fault == "wrong-reset" and algorithm == "sliding-window":
        # a sliding window of 3 s says Reset 1 whatever the fault does to it: a longer one
        plan = replace(plan, burst=100)
    v = judge(tmp_path, quick(plan))
    if dialect == "none" and fault in UNSEEN_WITHOUT_HEADERS:
        assert v.passed and not failed(v), v.summary  # nothing to see: no false alarm either
    elif dialect == "none" and fault in WARNED_WITHOUT_HEADERS:
        assert v.passed and {c.id for c in v.warnings()} == {"retry-after-honest"}, v.summary
    else:
        assert not v.passed and v.summary.startswith("FAIL"), v.summary


def test_a_plan_refuses_what_it_cannot_simulate() -> None:
    with pytest.raises(ValueError, match="scenario"):
        Plan(scenario="soak")
    with pytest.raises(ValueError, match="vary_by"):
        Plan(vary_by="token")


def test_the_probe_schedule_is_the_probe_scenario_s() -> None:
    """The documented burst and five more at once, a second's pause, then 1.1, 1.25 and 1.5
    times the documented rate, a third of the rest of the run each."""
    sent = (
        np.array(
            [r.sent for r in simulate(Plan(scenario="probe", seconds=19.0)) if r.endpoint == ME]
        )
        - START
    )
    burst = sent[sent < 0.5]
    assert len(burst) == 101 + PROBE_EXTRA and burst.max() < 0.05
    assert not ((sent >= 0.5) & (sent < 1.0)).any()
    for k, factor in enumerate((1.1, 1.25, 1.5)):
        step = sent[(sent >= 1 + 6 * k) & (sent < 1 + 6 * (k + 1))]
        assert abs(len(step) / 6 - 10 * factor) <= 0.2, (factor, len(step))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_probe_and_hammer_agree(tmp_path: Path, algorithm: str) -> None:
    """The probe offers at most 1.5 x the documented rate, a hammer thousands of times more:
    both intervals hold the configured rate and neither fails.  (A moving window frees each
    slot one window after it was taken, and at the probe's sparse rate a slot waits up to a
    request's gap for its next taker: how far that shifted the windows is not known, and the
    probe's interval is wider, wide enough to leave the rate undecided.)"""
    plan = correct(algorithm, "mattermost", "address")
    hammer = judge(tmp_path / "hammer", plan)
    probe = judge(tmp_path / "probe", replace(plan, scenario="probe"))
    assert hammer.passed, hammer.summary
    assert probe.passed or (algorithm == "moving-window" and probe.outcome == "inconclusive"), (
        probe.summary
    )
    for v in (hammer, probe):
        m = v.measured
        assert m.rate_low is not None and m.rate_high is not None, v.summary
        assert m.rate_low <= 10 <= m.rate_high, (algorithm, m)
