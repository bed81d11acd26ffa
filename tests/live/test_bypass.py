"""The bypass audit on the reference server: a correct one dodges nothing; one that trusts
X-Forwarded-For from anyone is dodged by that header (and only the vectors it opens); one that
keys each path as sent is dodged by other spellings of the route."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.runs import REPO, locust_cmd, mmload_run
from tests.support.server_fixture import ServeFactory

# what --per-route opens: its key is the path as sent, after percent-decoding, without the query
SPELLINGS = {"trailing-slash", "doubled-slash", "dot-segment", "path-case", "semicolon-parameter"}


def audit(tmp_path: Path, url: str) -> tuple[int, dict[str, Any]]:
    folder = tmp_path / "run"
    proc = subprocess.run(
        locust_cmd(
            "bypass",
            url,
            "--headless",
            "-u",
            "1",
            "-r",
            "1",
            "-t",
            "60s",
            "--accounts",
            "1",
            "--documented-limit",
            "10/s",
            "--documented-burst",
            "20",
            "--run-dir",
            str(folder),
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (folder / "bypass.json").is_file(), proc.stderr[-3000:]
    return proc.returncode, json.loads((folder / "verdict.json").read_text())


def failed(verdict: dict[str, Any]) -> set[str]:
    """The vectors that dodged the limit, and login-lockout when failed logins lock nothing."""
    return {
        c["id"].removeprefix("no-bypass:")
        for c in verdict["checks"]
        if c["id"].startswith(("no-bypass:", "login-lockout")) and c["passed"] is False
    }


GCRA = ("--per-sec", "10", "--max-burst", "20")


@pytest.mark.parametrize(
    ("server", "dodged"),
    [
        ((), set()),
        (("--max-login-attempts", "0"), {"login-lockout"}),
        (("--trust-forwarded",), {"x-forwarded-for", "x-forwarded-for-appended"}),
        (("--per-route",), SPELLINGS),
        (("--vary-by-header", "X-Real-IP"), {"x-real-ip"}),
    ],
)
def test_each_fault_is_found_by_the_vectors_it_opens(
    tmp_path: Path, serve: ServeFactory, server: tuple[str, ...], dodged: set[str]
) -> None:
    url = serve(*GCRA, *server, "--accounts", "1").url
    code, verdict = audit(tmp_path, url)
    assert failed(verdict) == dodged, verdict["summary"]
    audited = [c for c in verdict["checks"] if c["id"].startswith("no-bypass:")]
    assert len(audited) == 18 and all(c["passed"] is not None for c in audited), audited
    assert code == (1 if dodged else 0), verdict["summary"]
    lockout = next(c for c in verdict["checks"] if c["id"] == "login-lockout")
    assert lockout["passed"] is ("login-lockout" not in dodged), lockout
    if dodged - {"login-lockout"}:
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
    assert failed(verdict) == {"x-forwarded-for", "x-forwarded-for-appended"}, verdict
    assert "no-bypass:x-forwarded-for" in done.err  # the summary names it
    others = [c for c in verdict["checks"] if c["passed"] is False and "no-bypass" not in c["id"]]
    assert all("dodged the limit" in c["diagnosis"] for c in others), others
