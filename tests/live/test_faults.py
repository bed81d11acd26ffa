"""Runs where things fail: the target goes away and comes back, ``mmload run`` is killed.  Each
ends with a run folder that says what happened, a clear exit code and no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mmload.results.folder import read_run
from mmload.results.outages import (
    Outage,
    error_share_note,
    find_outages,
    stopped_users_note,
)
from mmload.results.records_file import read_records
from mmload.results.timeline_file import read_timeline
from tests.support.runs import REPO
from tests.support.server_fixture import ServeFactory

Row = dict[str, float | None]


def rows(*seconds: tuple[int, int, int]) -> list[Row]:
    return [{"second": s, "offered": o, "errors": e} for s, o, e in seconds]


def test_an_outage_is_every_request_failing_for_a_while() -> None:
    timeline = rows(
        (100, 10, 0),
        (101, 10, 2),
        (102, 10, 10),
        (103, 0, 0),
        (104, 4, 4),
        (105, 10, 1),
        (106, 10, 10),
    )
    assert find_outages(timeline) == [Outage(102, 105, 14), Outage(106, 107, 10, to_the_end=True)]
    assert find_outages(rows((100, 2, 2), (101, 5, 0))) == []  # two unlucky requests
    assert find_outages([]) == []
    note = Outage(45_005, 45_009, 1234).note()
    assert note == (
        "the target failed every request from 12:30:05 UTC to 12:30:09 UTC (4 s, 1234 errors)"
    )
    assert "to the end of the run" in Outage(45_005, 45_009, 9, to_the_end=True).note()


def test_a_server_answering_4xx_is_up() -> None:
    """Failed logins (401) or a missing route (404) are answers: not an outage, whereas no
    answer or a 5xx is; a run folder written before client errors were counted reads as before."""
    answered = [{"second": 100, "offered": 16, "errors": 16, "client_errors": 16}]
    assert find_outages(answered) == []
    mixed = [{"second": 100, "offered": 16, "errors": 16, "client_errors": 10}]
    assert find_outages(mixed) == []  # 10 answered, 6 not
    unanswered = [{"second": 100, "offered": 16, "errors": 16, "client_errors": 0}]
    assert find_outages(unanswered) == [Outage(100, 101, 16, to_the_end=True)]
    assert find_outages(rows((100, 16, 16))) == [Outage(100, 101, 16, to_the_end=True)]


def test_notes_on_failed_requests_and_users_that_stopped() -> None:
    assert error_share_note(5, 100) == ""
    assert error_share_note(6, 100) == (
        "6% of the requests other than logins failed (6 of 100): more than 5%"
    )
    assert error_share_note(0, 0) == ""
    counters = {"relogins": 2, "stopped: login failed": 2, "stopped: no channels": 1}
    assert stopped_users_note(counters) == (
        "3 user(s) stopped before the end of the run: login failed (2), no channels (1)"
    )
    assert stopped_users_note({"relogins": 1}) == ""


def _wait(what: str, condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.1)


def _timeline(out: Path) -> list[Row]:
    try:
        return [r for f in out.glob("*/timeline.csv") for r in read_timeline(f.parent)]
    except (OSError, ValueError):
        return []


def _answered(out: Path) -> int:
    return sum(1 for r in _timeline(out) if (r["accepted"] or 0) > 0)


def _all_failed(out: Path) -> int:
    return sum(1 for r in _timeline(out) if (r["offered"] or 0) and r["errors"] == r["offered"])


def _mmload(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mmload", *args],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@pytest.mark.slow
def test_the_target_killed_mid_run_is_an_outage_and_an_impaired_run(
    serve: ServeFactory, tmp_path: Path
) -> None:
    """The server dies for a few seconds and comes back: the run goes on, counts the errors,
    notes the outage in run.json (and so in the report) and exits 3 unless its verdict fails."""
    server = serve("--accounts", "4")
    run = _mmload(
        "run",
        "--host",
        server.url,
        "--accounts",
        "4",
        "-u",
        "4",
        "-t",
        "9s",
        "--out",
        str(tmp_path),
        "--request-timeout",
        "5",
    )
    try:
        _wait("two seconds answered", lambda: _answered(tmp_path) >= 2)
        server.kill()
        killed = time.time()
        _wait("two seconds of failures", lambda: _all_failed(tmp_path) >= 2)
        serve("--accounts", "4", "--port", str(server.port))  # back, with new sessions
        back = time.time()
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    folder = Path(out.strip().splitlines()[-1])
    summary, verdict = read_run(folder), json.loads((folder / "verdict.json").read_text())
    assert run.returncode == (1 if verdict["outcome"] == "fail" else 3), err  # impaired
    assert "Traceback" not in err
    outages = [n for n in summary["notes"] if n.startswith("the target failed every request")]
    assert len(outages) == 1, summary["notes"]
    assert f"mmload: the run was impaired: {outages[0]}" in err
    start, end = (_at(folder, t) for t in outages[0].split(" from ")[1].split(" UTC to ")[:2])
    assert killed - 1.5 <= start <= killed + 1.5 and killed < end <= back + 2.0, outages[0]
    totals = summary["totals"]
    assert totals["error"] > 0 and totals["accepted"] > 0
    assert sum(r["errors"] or 0 for r in read_timeline(folder)) == totals["error"]
    assert sum(1 for _ in read_records(folder)) == totals["offered"]
    assert outages[0] in (folder / "report.html").read_text()  # the report shows the notes


def _at(folder: Path, clock: str) -> float:
    """The UNIX time of an HH:MM:SS of the run's day (runs here do not cross midnight)."""
    day = read_run(folder)["started_at"][:10]
    when = datetime.strptime(f"{day} {clock[:8]}", "%Y-%m-%d %H:%M:%S")
    return when.replace(tzinfo=UTC).timestamp()


@pytest.mark.slow
def test_kill_9_of_mmload_run_takes_its_server_and_locust_along(tmp_path: Path) -> None:
    """The reference server and Locust, each in a session of its own, do not outlive a
    ``kill -9`` of ``mmload run``: they get SIGTERM (Linux's parent-death signal), Locust
    completes the folder, and verify and report work from it."""
    run = _mmload("run", "-t", "60s", "-u", "2", "--out", str(tmp_path))
    try:
        _wait("three seconds written", lambda: len(_timeline(tmp_path)) >= 3)
        children = _children(run.pid)
        assert len(children) == 2, children  # the reference server and Locust
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=90)  # Locust holds the pipes until it has finished
        _wait("its server and Locust to end", lambda: not any(_alive(c) for c in children))
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    (folder,) = tmp_path.iterdir()
    assert read_run(folder)["status"] in ("finished", "failed")
    for command in ("verify", "report"):
        done = subprocess.run(
            [sys.executable, "-m", "mmload", command, str(folder)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # 1: the verdict's FAIL; 4: too short to decide it
        assert done.returncode in (0, 1, 4), done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert (folder / "report.html").exists() and (folder / "verdict.json").exists()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (command)"
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie, not yet reaped by init, is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
