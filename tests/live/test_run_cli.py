"""`mmload run` and the scenarios on bad input, Ctrl-C, and Locust's own exit code."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmload.launch.embedded import EmbeddedServer
from mmload.results.folder import read_run
from mmload.results.timeline_file import read_timeline
from tests.support.runs import REPO, locust_cmd, mmload_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_connection_is_a_clear_exit_3(tmp_path: Path) -> None:
    done = mmload_run(tmp_path, "--host", f"http://127.0.0.1:{free_port()}", "-t", "2s")
    assert done.code == 3
    assert "cannot reach http://127.0.0.1:" in done.err
    assert "Traceback" not in done.err


@pytest.mark.parametrize("host", ["127.0.0.1:8065", "ftp://127.0.0.1", "http://"])
def test_a_wrong_url_is_a_usage_error(tmp_path: Path, host: str) -> None:
    done = mmload_run(tmp_path, "--host", host)
    assert done.code == 2
    assert "not an http(s) URL" in done.err and "Traceback" not in done.err


def test_a_bad_accounts_file_names_the_line(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("login_id,password\nuser1,mmload-pass\nuser2\n")
    done = mmload_run(tmp_path, "--accounts", str(accounts))
    assert done.code == 2
    assert "line 3" in done.err and "Traceback" not in done.err


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    for args in (
        ["--scenario", "nope"],
        ["--documented-limit", "ten"],
        ["-u", "0"],
        ["-t", "1.5s"],
        ["-t", "0"],
        ["-t", "99999999999999999h"],
    ):
        done = mmload_run(tmp_path, *args)
        assert done.code == 2, args
        assert "error:" in done.err and "Traceback" not in done.err


@pytest.mark.slow
def test_429_does_not_trip_exit_code_on_error(tmp_path: Path) -> None:
    with EmbeddedServer(["--per-sec", "1", "--max-burst", "5"]) as server:
        proc = subprocess.run(
            locust_cmd(
                "hammer",
                server.url,
                "--headless",
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "3s",
                "--exit-code-on-error",
                "1",
                "--json",
                "--out",
                str(tmp_path),
                "--accounts",
                "2",
                "--documented-limit",
                "1/s",
                "--documented-burst",
                "5",
            ),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode in (0, 4), proc.stderr  # never 1: a 429 is no failure
    stats = {row["name"]: row for row in json.loads(proc.stdout)}
    limited = stats["GET /api/v4/users/me [429 limited]"]
    assert limited["num_requests"] > 0 and limited["num_failures"] == 0
    assert stats["GET /api/v4/users/me"]["num_failures"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "group", "code"), [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)]
)
def test_ctrl_c_or_sigterm_stops_the_run_and_keeps_its_folder(
    tmp_path: Path, sig: signal.Signals, group: bool, code: int
) -> None:
    """Ctrl-C reaches the terminal's whole process group; a service manager's SIGTERM only
    mmload run itself.  Either way the folder is complete, the verdict and the report too."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmload", "run", "-t", "60s", "-u", "2", "--out", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline and len(_rows(tmp_path)) < 3:  # logins, then some load
            time.sleep(0.2)
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err  # interrupted, as shells expect; the folder is complete
    folder = Path(out.strip().splitlines()[-1])
    run = read_run(folder)
    assert run["status"] == "finished" and run["totals"]["offered"] > 0
    server = json.loads((folder / "server.json").read_text())
    assert server["requests"] == run["totals"]["offered"]
    assert sum(row["offered"] or 0 for row in read_timeline(folder)) == server["requests"]
    assert (folder / "verdict.json").exists() and (folder / "report.html").exists()
    for command in ("verify", "report"):  # again, from the folder alone
        again = subprocess.run(
            [sys.executable, "-m", "mmload", command, str(folder)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # verify: pass, or inconclusive when the interrupted run was too short to decide
        assert again.returncode in ((0, 4) if command == "verify" else (0,)), again.stdout
    assert "Traceback" not in err


def _rows(out: Path) -> list[dict[str, float | None]]:
    try:
        return [r for f in out.glob("*/timeline.csv") for r in read_timeline(f.parent)]
    except (OSError, ValueError):
        return []
