"""The verdict on synthesized run folders (the reference server's own limiter and dialects on a
virtual clock): every correct configuration passes with its rate measured within 5%, every
fault fails the check that names it, and the documentation's Mattermost conflicts are warnings."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mmload.dialects import DIALECTS
from mmload.server.limiting import ALGORITHMS
from mmload.verdict import Verdict, verify
from mmload.verdict.output import SUMMARY_MD, VERDICT_JSON, VERDICT_XML, write
from tests.support.folders import synthesized
from tests.support.synth import START, Plan, write_folder
from tests.support.worlds import correct, quick, shorter


def judge(tmp_path: Path, plan: Plan, **kw: object) -> Verdict:
    return verify(synthesized(plan, tmp_path / "run"), **kw)  # type: ignore[arg-type]


def failed(v: Verdict) -> set[str]:
    return {c.id for c in v.checks if c.passed is False}


# every algorithm with every dialect; each of them with both keyings (all pairs of the three,
# half the runs of every combination)
PAIRS = [
    (algorithm, dialect, ("address", "user")[(a + d) % 2])
    for a, algorithm in enumerate(ALGORITHMS)
    for d, dialect in enumerate(DIALECTS)
]


@pytest.mark.parametrize(("algorithm", "dialect", "vary_by"), PAIRS)
def test_a_correct_server_passes(
    tmp_path: Path, algorithm: str, dialect: str, vary_by: str
) -> None:
    v = judge(tmp_path, shorter(correct(algorithm, dialect, vary_by)))
    assert v.passed, v.summary
    rate = v.measured.rate_per_s
    assert rate is not None and abs(rate - 10) <= 0.5, v.measured
    if algorithm == "gcra":
        assert v.measured.burst == 100 and v.measured.algorithm == "gcra"
    agreement = v.measured.model_agreement
    assert agreement is not None and agreement >= 0.99, v.measured
    assert v.measured.scope == ("per-user" if vary_by == "user" else "per-address")


FAULTS = [
    ("no-enforcement", {}, "limit-enforced"),
    ("lax", {}, "rate-matches-documented"),
    ("stuck-remaining", {}, "remaining-consistent"),
    ("no-retry-after", {}, "retry-after-honest"),
    ("bare-429", {}, "limited-response-shape"),
    ("wrong-reset", {}, "reset-honest"),
    ("shared-bucket", {"vary_by": "user"}, "scope-matches"),
]


@pytest.mark.parametrize(("fault", "plan", "check"), FAULTS)
def test_every_fault_fails_its_check_and_the_verdict(
    tmp_path: Path, fault: str, plan: dict[str, str], check: str
) -> None:
    v = judge(tmp_path, quick(Plan(faults=(fault,), **plan)))  # type: ignore[arg-type]
    assert not v.passed and check in failed(v), (v.summary, failed(v))
    assert v.summary.startswith("FAIL") and check in v.summary


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_server_stricter_or_laxer_than_documented_fails(tmp_path: Path, algorithm: str) -> None:
    for per_sec in (5, 20):
        plan = correct(algorithm, "mattermost", "address")
        plan.per_sec = per_sec
        v = judge(tmp_path / str(per_sec), plan)
        assert "rate-matches-documented" in failed(v), v.summary
        assert abs((v.measured.rate_per_s or 0.0) - per_sec) <= 0.05 * per_sec, v.measured


def test_limiting_below_the_documented_rate_is_caught(tmp_path: Path) -> None:
    """steady at 0.8 x 10/s against a server that enforces 5/s: every refusal is below."""
    v = judge(tmp_path, Plan(per_sec=5, burst=5, scenario="steady", factor=0.8, seconds=30))
    assert "no-limiting-below-limit" in failed(v), v.summary


def test_below_the_limit_nothing_is_refused_and_nothing_undecidable_passes(
    tmp_path: Path,
) -> None:
    v = judge(tmp_path, Plan(scenario="steady"))
    assert v.passed
    by_id = {c.id: c for c in v.checks}
    assert by_id["no-limiting-below-limit"].passed is True
    for undecidable in ("limit-enforced", "rate-matches-documented", "burst-matches-documented"):
        assert by_id[undecidable].passed is None  # not applicable, never "passed"


def test_mattermost_defaults_conflict_with_the_api_doc_as_warnings(tmp_path: Path) -> None:
    folder = synthesized(Plan(), tmp_path / "run")
    run = json.loads((folder / "run.json").read_text())
    run["server_version_id"] = "10.5.0.1234.abcd.false"  # the server says it is Mattermost
    (folder / "run.json").write_text(json.dumps(run))
    v = verify(folder)
    assert v.passed and {c.id for c in v.warnings()} == {"advertised-limit", "reset-semantics"}
    advertised = next(c for c in v.checks if c.id == "advertised-limit")
    assert "101 is the burst capacity" in advertised.message and "per second" in advertised.message
    reset = next(c for c in v.checks if c.id == "reset-semantics")
    assert "delta" in reset.message and "epoch" in reset.message
    assert not verify(folder, strict=True).passed  # --strict: warnings fail
    assert not verify(folder, expect="generic").warnings()  # no Mattermost doc to hold it to


def test_a_rate_documented_alone_documents_no_burst(tmp_path: Path) -> None:
    folder = synthesized(Plan(), tmp_path / "run")
    v = verify(folder, limit="10/s")
    burst = next(c for c in v.checks if c.id == "burst-matches-documented")
    assert burst.passed is None and "no burst" in burst.message
    assert verify(folder, limit="10/s", burst=50).passed is False  # the server's is 100


def test_polite_clients_find_retry_after_honest(tmp_path: Path) -> None:
    v = judge(tmp_path, Plan(scenario="polite", seconds=15))
    check = next(c for c in v.checks if c.id == "retry-after-honest")
    assert check.passed is True and "waiting that long was enough" in check.message


def test_the_verdict_is_written_three_ways(tmp_path: Path) -> None:
    folder = synthesized(Plan(faults=("lax",)), tmp_path / "run")
    v = verify(folder)
    write(folder, v)
    data = json.loads((folder / VERDICT_JSON).read_text())
    assert data["passed"] is False and data["summary"] == v.summary
    assert set(data["measured"]) >= {
        "rate_per_s",
        "rate_uncertainty",
        "burst",
        "scope",
        "buckets_per_key",
        "algorithm",
        "reset_semantics",
        "model_agreement",
    }
    assert data["outcome"] == "fail" and data["intent"] == list(v.intent)
    for check in data["checks"]:
        assert set(check) == {
            "id",
            "passed",
            "severity",
            "expected",
            "observed",
            "message",
            "diagnosis",
        }
    assert Verdict.from_dict(data) == v  # read back as written
    suite = ET.fromstring((folder / VERDICT_XML).read_text())
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c.id for c in v.checks]
    failures = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failures == ["limit-enforced", "rate-matches-documented"]
    assert suite.get("failures") == "2"
    summary = (folder / SUMMARY_MD).read_text()
    assert summary.startswith("## ❌") and "| rate-matches-documented | FAIL |" in summary


@pytest.mark.parametrize(
    ("bodies", "ok"),
    [
        ({"429": {"limit exceeded": 20}, "401": {"apperror": 2}}, True),
        ({"429": {"html": 20}}, False),  # nginx's own 429 page: a proxy answering for Mattermost
        ({"429": {"limit exceeded": 20}, "500": {"text": 1}}, False),
    ],
)
def test_mattermost_error_bodies(tmp_path: Path, bodies: dict[str, Any], ok: bool) -> None:
    folder = synthesized(Plan(), tmp_path / "run")
    run = json.loads((folder / "run.json").read_text())
    run.update(server_version_id="10.5.0.1.abc.false", error_bodies=bodies)
    (folder / "run.json").write_text(json.dumps(run))
    check = next(c for c in verify(folder).checks if c.id == "mattermost-responses")
    assert check.passed is ok and check.severity == "warning", check
    generic = next(
        c for c in verify(folder, expect="generic").checks if c.id == "mattermost-responses"
    )
    assert generic.passed is None


def test_two_buckets_behind_one_key_are_seen(tmp_path: Path) -> None:
    """A round-robin balancer over two nodes that each keep their own store: two interleaved
    Remaining sequences, and twice the rate per key."""
    v = judge(tmp_path, Plan(servers=2))
    assert v.measured.buckets_per_key == 2, v.measured
    rate = v.measured.rate_per_s or 0.0
    assert abs(rate - 20) <= 1.0 and "rate-matches-documented" in failed(v)
    assert judge(tmp_path / "one", Plan()).measured.buckets_per_key == 1


@pytest.mark.timeout(60)
def test_a_header_that_never_changes_is_judged_quickly(tmp_path: Path) -> None:
    """A proxy adding a fixed X-Ratelimit-Remaining to 200,000 answers is judged within the
    timeout: counting the falling sequences in quadratic time would make the end of the run
    seem to hang."""
    from mmload.results.record import Record

    rows = [
        Record(
            START + k / 5000,
            1.0,
            "GET /x",
            200,
            "addr:1",
            "token:1",
            "addr:1",
            100,
            99,
            1,
            None,
            None,
            "",
            "mattermost",
            None,
            "",
        )
        for k in range(200_000)
    ]
    v = verify(write_folder(tmp_path / "run", Plan(), records=rows))
    assert not v.passed and "limit-enforced" in failed(v) and v.measured.buckets_per_key == 1


def test_under_github_actions_failures_and_warnings_are_annotations(tmp_path: Path) -> None:
    from mmload.cli import main

    synthesized(Plan(faults=("lax",), seconds=10), tmp_path / "run")  # twice the rate
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_ACTIONS", "true")
        assert main(["verify", str(tmp_path / "run")], out, err) == 1, err.getvalue()
    lines = out.getvalue().splitlines()
    errors = [line for line in lines if line.startswith("::error title=mmload ")]
    assert any(line.startswith("::error title=mmload rate-matches-documented::") for line in errors)
    assert all("\n" not in line and "::" in line[2:] for line in errors)
    assert any("+100.0%25 from the documented" in line for line in errors)  # % escaped
    out = io.StringIO()
    assert main(["verify", str(tmp_path / "run")], out, err) == 1  # not under GitHub: none
    assert "::error" not in out.getvalue()
