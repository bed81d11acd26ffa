"""Exact merged totals with --processes and master/workers; a killed run keeps its folder."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mmload.harness.embedded import EmbeddedServer
from mmload.results.folder import read_run
from mmload.results.records import read_records
from mmload.results.timeline_file import read_timeline
from tests.runs import (
    REPO,
    Done,
    FakeServer,
    accounts_file,
    assert_folder_matches_server,
    locust_cmd,
    mmload_run,
)

pytestmark = pytest.mark.slow


def test_processes_merge_exact_totals(tmp_path: Path) -> None:
    done = mmload_run(tmp_path, "-u", "6", "-t", "6s", "--processes", "2", "--accounts", "6")
    assert done.code == 0, done.err
    assert done.folder is not None
    server = json.loads((done.folder / "server.json").read_text())
    assert_folder_matches_server(done, server)
    assert done.run()["logins"]["succeeded"] == server["logins"] == 6
    assert done.run()["server_version_id"]  # workers pass on what the server said it is


def test_master_and_two_workers_merge_exact_totals(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with EmbeddedServer() as server:
        common = ["--accounts", "6", "--documented-limit", "10/s"]
        port = _free_port()
        master = subprocess.Popen(
            locust_cmd("hammer", server.url, "--master", "--headless", "--expect-workers", "2",
                       "-u", "6", "-r", "6", "-t", "6s", "--master-bind-port", str(port),
                       "--run-dir", str(folder), "--only-summary", *common),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        workers = [
            subprocess.Popen(
                locust_cmd("hammer", server.url, "--worker", "--master-port", str(port)),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        try:
            out, _ = master.communicate(timeout=60)
            assert master.returncode == 0, out
            for w in workers:
                w.wait(timeout=30)
            stats = server.stats()
        finally:
            procs: list[subprocess.Popen[Any]] = [master, *workers]
            for p in procs:
                if p.poll() is None:
                    p.kill()
    done = Done(0, "", out, folder)
    assert_folder_matches_server(done, stats)
    assert read_run(folder)["logins"]["succeeded"] == stats["logins"] == 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_killed_run_keeps_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "killed"
    with EmbeddedServer() as server:
        proc = subprocess.Popen(
            locust_cmd("hammer", server.url, "--headless", "-u", "4", "-r", "4", "-t", "60s",
                       "--run-dir", str(folder), "--accounts", "4"),
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.time() + 30
            while time.time() < deadline and not _seconds_written(folder, 4):
                time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            at_kill = server.stats()["requests"]
        finally:
            if proc.poll() is None:
                proc.kill()
    records = list(read_records(folder))
    rows = read_timeline(folder)
    assert read_run(folder)["status"] == "running"
    assert len(rows) >= 4
    # everything up to the last flush (at most about one second before the kill) is on disk
    rate = at_kill / (records[-1].sent - records[0].sent + 1)
    assert at_kill - 2 * rate <= len(records) <= at_kill
    assert sum(r["offered"] or 0 for r in rows) == len(records)
    # the verdict, from what was flushed before the kill
    verify = subprocess.run([sys.executable, "-m", "mmload", "verify", str(folder)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("PASS") and (folder / "verdict.json").exists()


def _seconds_written(folder: Path, n: int) -> bool:
    try:
        return len(read_timeline(folder)) >= n
    except (FileNotFoundError, ValueError):
        return False


def test_a_worker_whose_users_need_3_s_to_stop_lands_every_record(tmp_path: Path) -> None:
    """Before, the master waited a fixed half second for workers' last reports: the requests
    that were still being answered when the run ended went missing."""
    with FakeServer("--delay", "4") as fake:
        done = mmload_run(tmp_path, "--host", fake.url, "--accounts",
                          str(accounts_file(tmp_path, 2)), "-u", "2", "-t", "2s",
                          "--processes", "1")  # fmt: skip
        answered = fake.stats()["answered"]
    assert done.code == 0, done.err
    run = done.run()
    # the users' first requests went at 1 s, were answered at 5 s: 3 s after the run ended
    assert run["totals"]["offered"] == answered == 2 + 2
    assert run["totals"]["accepted"] == 4 and run["missing_workers"] == []
    assert len(done.records()) == 4


def test_paced_users_of_two_processes_take_every_slot(tmp_path: Path) -> None:
    """Before, workers knew no worker count and their users took the same phase slots."""
    done = mmload_run(tmp_path, "--scenario", "steady", "--processes", "2", "-u", "10",
                      "-t", "7s", "--documented-limit", "20/s", "--accounts", "10")  # fmt: skip
    assert done.code == 0, done.err
    start = done.run()["load_started"]
    sends = [r.sent for r in done.records() if r.endpoint == "GET /api/v4/users/me"]
    assert len(sends) >= 40
    # 10 req/s from 10 users, each 1 req/s: each user's phase within the second is its slot,
    # and the slots are 0.1 s apart; count the sends around each slot
    phases = [((s - start) % 1.0) for s in sends]
    counts = [sum(1 for p in phases if abs((p - k / 10 + 0.5) % 1.0 - 0.5) < 0.05)
              for k in range(10)]  # fmt: skip
    assert sum(counts) >= 0.9 * len(sends), counts
    assert min(counts) >= 0.05 * len(sends) and max(counts) <= 0.15 * len(sends), counts
