"""Exact merged totals with --processes and master/workers; a killed run keeps its folder."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mmload.launch.embedded import EmbeddedServer
from mmload.results.folder import read_run
from mmload.results.records_file import read_records
from mmload.results.timeline_file import read_timeline
from tests.support.runs import (
    REPO,
    Done,
    FakeServer,
    accounts_file,
    assert_folder_matches_server,
    locust_cmd,
    mmload_run,
)

pytestmark = pytest.mark.slow


def test_processes_merge_exact_totals_and_judge_as_one_process(tmp_path: Path) -> None:
    # 50/s: in a short hammer at 10/s, GCRA predicts the server's decisions only a little better
    # than a fixed window does (by 0.01 of the score), and noise may pick either
    args = (
        "-u",
        "6",
        "-t",
        "8s",
        "--accounts",
        "6",
        "--server-per-sec",
        "50",
        "--documented-limit",
        "50/s",
        "--documented-burst",
        "100",
    )
    one = mmload_run(tmp_path / "one", *args)
    two = mmload_run(tmp_path / "two", *args, "--processes", "2")
    # a pass, or on a busy host a rate interval still reaching across the tolerance's edge
    assert one.code in (0, 4) and two.code in (0, 4), one.err + two.err
    assert one.folder is not None and two.folder is not None
    server = json.loads((two.folder / "server.json").read_text())
    assert_folder_matches_server(two, server)
    assert two.run()["logins"]["succeeded"] == server["logins"] == 6
    assert two.run()["server_version_id"]  # workers pass on what the server said it is
    verdicts = [json.loads((d / "verdict.json").read_text()) for d in (one.folder, two.folder)]
    assert all(v["outcome"] in ("pass", "inconclusive") for v in verdicts), verdicts
    rates = [v["measured"]["rate_per_s"] for v in verdicts]
    assert all(abs(rate - 50) <= 0.05 * 50 for rate in rates), rates  # --tolerance 0.05
    assert [v["measured"]["scope"] for v in verdicts] == ["per-address"] * 2
    # GCRA, unless noise leaves no family explaining 95% of the decisions
    assert all(v["measured"]["algorithm"] in ("gcra", "unknown") for v in verdicts), verdicts


class Cluster:
    """A Locust master and two workers, separate OS processes over loopback TCP, exactly as
    across hosts: the master listens on 127.0.0.1 at a free port, the workers connect to it."""

    def __init__(self, url: str, folder: Path, *args: str) -> None:
        port = str(_free_port())
        self.master = subprocess.Popen(
            locust_cmd(
                "hammer",
                url,
                "--master",
                "--headless",
                "--expect-workers",
                "2",
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                port,
                "--run-dir",
                str(folder),
                "--only-summary",
                *args,
            ),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        worker = locust_cmd(
            "hammer", url, "--worker", "--master-host", "127.0.0.1", "--master-port", port
        )
        self.workers = [
            subprocess.Popen(worker, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]

    def wait(self) -> tuple[int, str]:
        """The master's exit code and output, once master and workers have ended."""
        out, _ = self.master.communicate(timeout=90)
        for w in self.workers:
            w.wait(timeout=30)
        return self.master.returncode, out

    def stop(self) -> None:
        procs: list[subprocess.Popen[Any]] = [self.master, *self.workers]
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_master_and_two_workers_merge_exact_totals(tmp_path: Path) -> None:
    folder, stats_file = tmp_path / "run", tmp_path / "locust.json"
    with EmbeddedServer(["--per-sec", "50"]) as server:  # 50/s: see the test above
        cluster = Cluster(
            server.url,
            folder,
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "6s",
            "--accounts",
            "6",
            "--documented-limit",
            "50/s",
            "--documented-burst",
            "100",
            "--json-file",
            str(stats_file),
        )
        try:
            code, out = cluster.wait()
            stats = server.stats()
        finally:
            cluster.stop()
    assert code in (0, 4), out  # never a failure; a busy machine may leave the rate undecided
    done = Done(code, "", out, folder)
    assert_folder_matches_server(done, stats)
    assert read_run(folder)["logins"]["succeeded"] == stats["logins"] == 6
    # what the workers sent, by Locust's own stats (each worker counts, the master adds up)
    sent = sum(e["num_requests"] for e in json.loads(Path(f"{stats_file}.json").read_text()))
    assert sent == read_run(folder)["totals"]["offered"] == stats["requests"]
    assert read_run(folder)["missing_workers"] == []
    assert not [note for note in read_run(folder)["notes"] if "worker" in note]
    # and it is judged as the single-process run of the test above is
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["outcome"] == ("pass" if code == 0 else "inconclusive"), verdict["summary"]
    rate = verdict["measured"]["rate_per_s"]
    assert rate is None or abs(rate - 50) <= 0.05 * 50, verdict["measured"]
    measured = verdict["measured"]
    assert measured["scope"] == "per-address", measured
    assert code != 0 or measured["algorithm"] == "gcra", measured


def test_a_worker_killed_mid_run_is_noted_and_the_run_completes(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with EmbeddedServer() as server:
        cluster = Cluster(server.url, folder, "-u", "4", "-r", "4", "-t", "10s", "--accounts", "4")
        try:
            victim = cluster.workers[0]
            _wait_for(lambda: _load_seconds(folder) >= 2, 40)  # its batches are coming in
            victim.send_signal(signal.SIGKILL)
            killed = time.time()
            code, out = cluster.wait()
            at_end = server.stats()
        finally:
            cluster.stop()
    run = read_run(folder)
    # impaired (3), unless the verdict on what arrived fails (1): the acceptances the lost
    # worker got in its last second are missing, and a bucket fed the rest has room to spare
    verdict = json.loads((folder / "verdict.json").read_text())
    assert code == (1 if verdict["outcome"] == "fail" else 3), out
    assert run["status"] == "finished" and "worker(s) lost" in run["exit"]["reason"]
    assert len(run["missing_workers"]) == 1
    [note] = [note for note in run["notes"] if "worker" in note]  # others may note an outage
    assert f"pid {victim.pid}," in note and run["missing_workers"][0] in note, note
    assert " was lost: " in note or " sent no last batch " in note, note
    # about when: its last heartbeat or batch came within the few seconds before the kill
    heard = float(re.search(r"([0-9.]+) s into the load", note).group(1))  # type: ignore[union-attr]
    assert killed - run["load_started"] - 3.5 <= heard <= killed - run["load_started"] + 0.5
    # the rest is exact; what the lost worker sent after its last batch is missing
    assert 0 < run["totals"]["offered"] <= at_end["requests"]
    done = Done(code, "", out, folder)
    assert len(done.records()) == run["totals"]["offered"]
    # the report says it, once
    page = (folder / "report.html").read_text()
    assert page.count(run["missing_workers"][0]) == 1 and f"pid {victim.pid}," in page


def _wait_for(ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert time.time() < deadline, f"not ready after {timeout} s"
        time.sleep(0.1)


def _load_seconds(folder: Path) -> int:
    try:
        return sum(1 for row in read_timeline(folder) if row["offered"])
    except (FileNotFoundError, ValueError):
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_killed_run_keeps_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "killed"
    with EmbeddedServer() as server:
        proc = subprocess.Popen(
            locust_cmd(
                "hammer",
                server.url,
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "60s",
                "--run-dir",
                str(folder),
                "--accounts",
                "4",
            ),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
    verify = subprocess.run(
        [sys.executable, "-m", "mmload", "verify", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("PASS") and (folder / "verdict.json").exists()
    # and the report of what was flushed
    report = subprocess.run(
        [sys.executable, "-m", "mmload", "report", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0 and not report.stderr, report.stdout + report.stderr
    assert "PASS" in (folder / "report.html").read_text()
    assert (folder / "throughput.png").stat().st_size > 10_000


def _seconds_written(folder: Path, n: int) -> bool:
    try:
        return len(read_timeline(folder)) >= n
    except (FileNotFoundError, ValueError):
        return False


def test_a_worker_whose_users_need_3_s_to_stop_lands_every_record(tmp_path: Path) -> None:
    """The master waits for workers' last reports as long as their users take to stop: the
    requests still being answered when the run ended are all recorded, no worker missing."""
    with FakeServer("--delay", "4") as fake:
        done = mmload_run(
            tmp_path,
            "--host",
            fake.url,
            "--accounts",
            str(accounts_file(tmp_path, 2)),
            "-u",
            "2",
            "-t",
            "2s",
            "--processes",
            "1",
        )
        answered = fake.stats()["answered"]
    assert done.code == 4, done.err  # a server that never limits, 4 requests: not decided
    run = done.run()
    # the users' first requests went at 1 s, were answered at 5 s: 3 s after the run ended
    assert run["totals"]["offered"] == answered == 2 + 2
    assert run["totals"]["accepted"] == 4 and run["missing_workers"] == []
    assert len(done.records()) == 4


def test_paced_users_of_two_processes_take_every_slot(tmp_path: Path) -> None:
    """Workers know the worker count: the paced users of two processes take every phase slot,
    each its own."""
    done = mmload_run(
        tmp_path,
        "--scenario",
        "steady",
        "--processes",
        "2",
        "-u",
        "10",
        "-t",
        "7s",
        "--documented-limit",
        "20/s",
        "--accounts",
        "10",
    )
    assert done.code == 0, done.err
    start = done.run()["load_started"]
    sends: dict[str, list[float]] = {}
    for r in done.records():
        if r.endpoint == "GET /api/v4/users/me":
            sends.setdefault(r.user, []).append(r.sent)
    assert len(sends) == 10 and sum(map(len, sends.values())) >= 40, done.err
    # 10 req/s from 10 users, each 1 req/s: each user's phase within the second is its slot, and
    # the slots are 0.1 s apart.  A user that started late (a login that waited) catches up at
    # once, off its slot, so each user is placed by where most of its sends went (within 30 ms)
    slots = []
    for times in sends.values():
        near = [
            round(((s - start) % 1.0) * 10) % 10
            for s in times
            if abs(((s - start) * 10 + 0.5) % 1.0 - 0.5) < 0.3
        ]
        slot, count = (Counter(near).most_common(1) or [(-1, 0)])[0]
        assert count >= len(times) / 2, ([round((s - start) % 1.0, 3) for s in times], done.err)
        slots.append(slot)
    assert sorted(slots) == list(range(10)), (slots, done.err)
