"""The verdict of real runs: Locust against the reference server on loopback, the verdict computed
at the end of the run (and again by ``mmload verify``), its exit code what CI sees."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mmload.launch.embedded import EmbeddedServer
from mmload.report import FIGURES
from tests.support.runs import REPO, locust_cmd, mmload_run, outcomes, verdict_of

pytestmark = pytest.mark.slow


def test_probe_finds_what_hammer_finds_sending_a_fraction(tmp_path: Path) -> None:
    hammer = mmload_run(tmp_path / "h", "-u", "10", "-t", "12s", "--accounts", "10")
    probe = mmload_run(
        tmp_path / "p", "--scenario", "probe", "-u", "10", "-t", "25s", "--accounts", "10"
    )
    assert hammer.code == 0 and probe.code == 0, (hammer.err, probe.err)
    a, b = verdict_of(hammer), verdict_of(probe)
    assert a["passed"] and b["passed"] and outcomes(a) == outcomes(b)
    ra, rb = a["measured"]["rate_per_s"], b["measured"]["rate_per_s"]
    assert abs(ra - 10) <= 0.5 and abs(rb - ra) <= 0.02 * ra, (ra, rb)
    # Send times are the client's: a request delayed on its way by a busy machine makes an
    # interval look up to 1/rate shorter than the server saw it, so one more may seem to pass.
    assert a["measured"]["burst"] in (100, 101) and b["measured"]["burst"] in (100, 101)
    for v in (a, b):
        assert v["measured"]["algorithm"] == "gcra" and v["measured"]["model_agreement"] >= 0.99
    assert probe.run()["steps"]["factors"] == [1.1, 1.25, 1.5]  # the report's points
    totals = probe.run()["totals"]
    assert totals["offered"] <= 2 * totals["accepted"], totals  # gentle
    assert hammer.run()["totals"]["offered"] > 20 * totals["offered"]
    # Mattermost's documented meaning of its headers differs from what they carry: warnings
    warned = {c["id"] for c in a["checks"] if c["passed"] is False}
    assert warned == {"advertised-limit", "reset-semantics"}
    for done in (hammer, probe):  # the end of a run writes its report too
        assert done.folder is not None
        page = (done.folder / "report.html").read_text()
        assert '<div class="verdict PASS">' in page
        assert all((done.folder / f"{name}.png").stat().st_size > 10_000 for name in FIGURES)


def test_a_faulty_server_fails_the_run_with_exit_1(tmp_path: Path) -> None:
    done = mmload_run(tmp_path, "-u", "4", "-t", "8s", "--server-fault", "wrong-reset")
    assert done.code == 1, done.err
    verdict = verdict_of(done)
    assert not verdict["passed"] and outcomes(verdict)["reset-honest"] is False
    assert "FAIL" in done.err and "reset-honest" in done.err
    again = subprocess.run(
        [sys.executable, "-m", "mmload", "verify", str(done.folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1 and again.stdout.startswith("FAIL")


def test_a_window_server_documented_by_its_rate_passes(tmp_path: Path) -> None:
    done = mmload_run(
        tmp_path,
        "-u",
        "4",
        "-t",
        "15s",
        "--server-algorithm",
        "fixed-window",
        "--server-burst",
        "20",
        "--documented-limit",
        "10/s",
    )
    # a window's rate is known to a window's drift: a few saturated seconds may leave it
    # straddling the tolerance (inconclusive), never outside it
    assert done.code in (0, 4), done.err
    verdict = verdict_of(done)
    m = verdict["measured"]
    assert m["rate_low"] <= 10 <= m["rate_high"] and abs(m["rate_per_s"] - 10) <= 0.5, m
    assert verdict["measured"]["algorithm"] in ("fixed-window", "window")
    assert verdict["measured"]["model_agreement"] >= 0.99
    assert outcomes(verdict)["burst-matches-documented"] is None  # a rate alone: no burst


def test_plain_locust_writes_the_verdict_and_exits_1_when_it_fails(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with EmbeddedServer() as server:
        proc = subprocess.run(
            locust_cmd(
                "hammer",
                server.url,
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "8s",
                "--accounts",
                "4",
                "--documented-limit",
                "5/s",
                "--run-dir",
                str(folder),
            ),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert proc.returncode == 1, proc.stderr
    suite = ET.fromstring((folder / "verdict.xml").read_text())
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert "rate-matches-documented" in failed
    assert (folder / "summary.md").read_text().startswith("## ❌")
    assert '<div class="verdict FAIL">' in (folder / "report.html").read_text()  # plain Locust too


def test_plain_locust_exits_0_on_a_pass_with_2_percent_of_answers_500(tmp_path: Path) -> None:
    """Locust's --exit-code-on-error (1 on any failure) never decides a run the verdict judged."""
    folder = tmp_path / "run"
    with EmbeddedServer(["--fault", "errors-2pct"]) as server:
        proc = subprocess.run(
            locust_cmd(
                "hammer",
                server.url,
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "12s",
                "--accounts",
                "4",
                "--run-dir",
                str(folder),
            ),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=90,
        )
        stats = server.stats()
    assert stats["statuses"].get("500", 0) >= 3, stats  # 2% of what it admitted failed
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["outcome"] == "pass", verdict["summary"]


def test_plain_locust_refuses_an_exit_code_on_error_it_would_ignore(tmp_path: Path) -> None:
    proc = subprocess.run(
        locust_cmd(
            "hammer",
            "http://127.0.0.1:9",
            "--headless",
            "-t",
            "1s",
            "--accounts",
            "2",
            "--exit-code-on-error",
            "0",
            "--run-dir",
            str(tmp_path / "run"),
        ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--exit-code-on-error would be ignored" in proc.stderr
