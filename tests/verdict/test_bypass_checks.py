"""The bypass audit in the verdict (:mod:`mmload.verdict.bypass_checks`): one check per vector
read from ``bypass.json``, saying what dodged the limit and how, whether the server then served
the requests, why a vector is undecided, and the dodge named as the cause of the run's other
failures."""

from __future__ import annotations

from pathlib import Path

from mmload.results import bypass
from mmload.verdict.bypass_checks import LOCKOUT, PREFIX, checks, explained
from mmload.verdict.schema import ERROR, Check

R = 429
SPLIT = "CECECECECEC"


def tried(vector: str, evasion: int, controls: int = R) -> bypass.Attempt:
    statuses = [controls if kind == "C" else evasion for kind in SPLIT]
    return bypass.Attempt(vector, SPLIT, statuses, 0.05, f"GET /x [{vector}]")


def audited(tmp_path: Path, *attempts: bypass.Attempt) -> dict[str, Check]:
    lockout = {"failed": [401] * 15, "then": 401, "then_id": bypass.LOCKED, "addresses": 1}
    bypass.write(tmp_path, list(attempts), 10.0, lockout)
    return {c.id: c for c in checks(tmp_path, {R})}


def test_each_vector_tried_is_a_check_saying_what_happened(tmp_path: Path) -> None:
    found = audited(
        tmp_path,
        tried("x-real-ip", 200),
        tried("trailing-slash", 404),
        tried("path-case", R),
        tried("http-1.0", 400),
    )
    assert set(found) == {
        LOCKOUT,
        *(PREFIX + v for v in ("x-real-ip", "trailing-slash", "path-case", "http-1.0")),
    }
    assert found[LOCKOUT].passed is True and "Mattermost's lockout" in found[LOCKOUT].message
    dodged = found[PREFIX + "x-real-ip"]
    assert dodged.passed is False and dodged.severity == ERROR
    assert "X-Real-IP dodges the limit: 5 of 5" in dodged.message
    assert "not served" not in dodged.message and "proxy" in dodged.diagnosis
    unserved = found[PREFIX + "trailing-slash"]
    assert unserved.passed is False and "answered 404: past the limit, but not served" in (
        unserved.message
    )
    assert found[PREFIX + "path-case"].passed is True
    undecided = found[PREFIX + "http-1.0"]
    assert undecided.passed is None and "neither let through nor refused" in undecided.message


def test_a_dodge_is_named_as_the_cause_of_the_other_failures(tmp_path: Path) -> None:
    audit = list(audited(tmp_path, tried("x-forwarded-for", 200)).values())
    other = Check("limit-enforced", False, ERROR, "limited", "more", "too many went through")
    [blamed] = explained([other], audit)
    assert "x-forwarded-for" in blamed.diagnosis and "dodged the limit" in blamed.diagnosis


def test_no_audit_no_checks(tmp_path: Path) -> None:
    assert checks(tmp_path, {R}) == []
