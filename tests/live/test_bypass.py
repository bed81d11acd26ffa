"""The bypass audit on the reference server: a correct one dodges nothing; one that trusts
X-Forwarded-For from anyone is dodged by that header (and only the vectors it opens); one that
keys each path as sent is dodged by other spellings of the route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.runs import bypass_audit, dodged, mmload_run
from tests.support.server_fixture import ServeFactory

# what --per-route opens: its key is the path as sent, after percent-decoding, without the query
SPELLINGS = {"trailing-slash", "doubled-slash", "dot-segment", "path-case", "semicolon-parameter"}


GCRA = ("--per-sec", "10", "--max-burst", "20")


@pytest.mark.parametrize(
    ("server", "opened"),
    [
        ((), set()),
        (("--max-login-attempts", "0"), {"login-lockout"}),
        (("--trust-forwarded",), {"x-forwarded-for", "x-forwarded-for-appended"}),
        (("--per-route",), SPELLINGS),
        (("--vary-by-header", "X-Real-IP"), {"x-real-ip"}),
    ],
)
def test_each_fault_is_found_by_the_vectors_it_opens(
    tmp_path: Path, serve: ServeFactory, server: tuple[str, ...], opened: set[str]
) -> None:
    url = serve(*GCRA, *server, "--accounts", "1").url
    code, verdict = bypass_audit(tmp_path / "run", url)
    assert dodged(verdict) == opened, verdict["summary"]
    audited = [c for c in verdict["checks"] if c["id"].startswith("no-bypass:")]
    assert len(audited) == 18 and all(c["passed"] is not None for c in audited), audited
    assert code == (1 if opened else 0), verdict["summary"]
    lockout = next(c for c in verdict["checks"] if c["id"] == "login-lockout")
    assert lockout["passed"] is ("login-lockout" not in opened), lockout
    if opened - {"login-lockout"}:
        broken = next(c for c in audited if c["passed"] is False)
        assert "dodges the limit" in broken["message"] and broken["diagnosis"]


def test_mmload_run_audits_its_reference_server_and_fails_a_trusted_header(tmp_path: Path) -> None:
    done = mmload_run(
        tmp_path,
        "--scenario",
        "bypass",
        "-u",
        "1",
        "-t",
        "60s",
        "--server-trust-forwarded",
        timeout=120,
    )
    assert done.code == 1, done.err
    verdict = json.loads((done.folder / "verdict.json").read_text()) if done.folder else {}
    assert dodged(verdict) == {"x-forwarded-for", "x-forwarded-for-appended"}, verdict
    assert "no-bypass:x-forwarded-for" in done.err  # the summary names it
    others = [c for c in verdict["checks"] if c["passed"] is False and "no-bypass" not in c["id"]]
    assert all("dodged the limit" in c["diagnosis"] for c in others), others
