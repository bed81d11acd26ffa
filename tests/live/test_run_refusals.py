"""What mmload refuses, and how runs that cannot be done end: each a clear message and exit code,
never a silent pass, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mmload.launch.embedded import EmbeddedServer
from tests.support.runs import REPO, FakeServer, accounts_file, locust_cmd, mmload_run


def no_traceback(text: str) -> bool:
    return "Traceback" not in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--rate-factor", "2"], "hammer would ignore --rate-factor"),
        (["--scenario", "ramp", "--rate-factor", "2"], "ramp would ignore --rate-factor"),
        (["--scenario", "polite", "--step-time", "3"], "polite would ignore --step-time"),
        (["--scenario", "mixed", "--hook-id", "abc"], "mixed would ignore --hook-id"),
        (
            ["--scenario", "webhook", "--accounts", "5", "--api", "v1"],
            "webhook would ignore --accounts and --api",
        ),
        (["--host", "http://127.0.0.1:9", "--server-per-sec", "5"], "--server-* options"),
        (["--documented-limit", "10/ms"], "10/ms"),
        (["--scenario", "mixed", "--api", "v1"], "needs --api v4"),
    ],
)
def test_mmload_run_refuses_options_that_would_do_nothing(
    tmp_path: Path, args: list[str], says: str
) -> None:
    done = mmload_run(tmp_path, *args, timeout=30)
    assert done.code == 2, done.err
    assert says in done.err and no_traceback(done.err)
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_plain_locust_refuses_an_ignored_option_and_what_a_scenario_lacks(tmp_path: Path) -> None:
    for scenario, extra, says in (
        ("hammer", ["--rate-factor", "2", "--accounts", "2"], "--rate-factor"),
        ("hammer", [], "--accounts is required"),
        ("webhook", [], "needs --hook-id"),
    ):
        proc = subprocess.run(
            locust_cmd(
                scenario,
                "http://127.0.0.1:9",
                "--headless",
                "-t",
                "2s",
                "--out",
                str(tmp_path),
                *extra,
            ),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert says in proc.stderr and no_traceback(proc.stderr)
    assert not list(tmp_path.iterdir())


def test_another_host_needs_accounts_given_explicitly(tmp_path: Path) -> None:
    """--host without --accounts is refused before any request, rather than log in to it as
    user1..N@example.com with the reference server's password; seeded accounts (a number)
    are for the reference server only: another server gets one GET, and no login."""
    with EmbeddedServer() as server:
        done = mmload_run(tmp_path, "--host", server.url, "-t", "2s", timeout=30)
        assert done.code == 2 and "--host needs --accounts" in done.err
        assert server.stats()["requests"] == 0
    with FakeServer() as fake:  # seeded accounts are only for the reference server
        done = mmload_run(tmp_path, "--host", fake.url, "--accounts", "3", "-t", "2s", timeout=30)
        assert done.code == 2 and "not an mmload reference server" in done.err
        assert fake.stats()["answered"] == 1  # one GET that asked what it is; no login


@pytest.mark.slow
def test_every_login_rate_limited_is_a_clear_exit_3(tmp_path: Path) -> None:
    """A run whose every login is answered 429 fails with exit 3, saying no login succeeded
    because they were rate-limited, without a traceback."""
    with FakeServer("--login-status", "429") as fake:
        done = mmload_run(
            tmp_path,
            "--host",
            fake.url,
            "--accounts",
            str(accounts_file(tmp_path, 2)),
            "-u",
            "2",
            "-t",
            "3s",
        )
        answered = fake.stats()["statuses"]
    assert done.code == 3, done.err
    assert "no login succeeded" in done.err and "answered 429 (rate-limited)" in done.err
    run = done.run()
    assert run["scenario"] == "probe"  # the gentle default against someone's server
    assert run["status"] == "failed" and run["logins"]["limited"] == answered["429"] > 0
    assert no_traceback(done.err)


@pytest.mark.slow
def test_rejected_tokens_are_logged_in_again_at_most_three_times(tmp_path: Path) -> None:
    """A 401 makes the account log in again at most three times, not without end; then the
    run fails (exit 3) saying so."""
    with FakeServer("--status", "401") as fake:
        done = mmload_run(
            tmp_path,
            "--host",
            fake.url,
            "--accounts",
            str(accounts_file(tmp_path, 1)),
            "-u",
            "2",
            "-t",
            "4s",
        )
    run = done.run()
    assert run["logins"]["succeeded"] == 1 + 3 and run["logins"]["relogins"] == 3
    assert "at most 3 re-logins per account" in done.err
    assert "3 re-login(s)" in done.err
    assert done.code == 3 and "never answered a request successfully" in done.err


@pytest.mark.slow
@pytest.mark.parametrize("after", ["reference server at", " users for "])
def test_ctrl_c_before_the_load_starts_exits_130(tmp_path: Path, after: str) -> None:
    """A Ctrl-C before the load starts, once the server is up or just as Locust is being
    started, exits 130 without a traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmload", "run", "-t", "60s", "--out", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        seen: list[str] = []  # the server is up, then Locust is about to start
        while not seen or after not in seen[-1]:
            seen.append(proc.stderr.readline())
            assert seen[-1], seen  # not at the end of its output
        os.killpg(proc.pid, signal.SIGINT)
        # generous: on a loaded CI machine the interrupted Locust may still be importing, and
        # its quitting waits for the stop timeout and the last batches before it exits
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert no_traceback(err)


@pytest.mark.slow
def test_mmload_run_configures_the_embedded_server_and_says_how(tmp_path: Path) -> None:
    """``mmload run`` configures the embedded server as asked and announces what it set up,
    not a fixed "(10/s, burst 100, by address)": one command shows a misconfigured, faulty
    server failing its documentation (exit 1)."""
    done = mmload_run(
        tmp_path,
        "-u",
        "2",
        "-t",
        "4s",
        "--server-per-sec",
        "20",
        "--server-burst",
        "5",
        "--server-dialect",
        "ietf",
        "--server-algorithm",
        "fixed-window",
        "--server-fault",
        "lax",
    )
    assert done.code == 1, done.err
    assert "FAIL: the server enforces" in done.err and "rate-matches-documented" in done.err
    assert "rate limit 20/s, burst 5, fixed-window, ietf headers" in done.err
    assert "faults: lax" in done.err
    assert done.folder is not None
    settings = json.loads((done.folder / "server.json").read_text())["settings"]
    assert (settings["per_sec"], settings["max_burst"], settings["faults"]) == (20, 5, ["lax"])
    me = [r for r in done.records() if r.endpoint == "GET /api/v4/users/me" and r.status == 200]
    assert me and all(r.dialect == "ietf" and r.limit is not None for r in me)
