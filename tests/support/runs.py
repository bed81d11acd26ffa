"""Helpers for integration tests that run real Locust processes against the reference server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmload.harness.scenarios import locustfile
from mmload.results.folder import read_run
from mmload.results.record import Record
from mmload.results.records_file import read_records
from mmload.results.timeline_file import read_timeline

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    code: int
    out: str
    err: str
    folder: Path | None

    def run(self) -> dict[str, Any]:
        assert self.folder is not None, self.err
        return read_run(self.folder)

    def records(self) -> list[Record]:
        assert self.folder is not None
        return list(read_records(self.folder))

    def timeline(self) -> list[dict[str, float | None]]:
        assert self.folder is not None
        return read_timeline(self.folder)


def mmload_run(
    out: Path, *args: str, timeout: float = 90, env: dict[str, str] | None = None
) -> Done:
    proc = subprocess.run(
        [sys.executable, "-m", "mmload", "run", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    lines = proc.stdout.strip().splitlines()
    folder = Path(lines[-1]) if lines and Path(lines[-1]).is_dir() else None
    return Done(proc.returncode, proc.stdout, proc.stderr, folder)


def locust_cmd(scenario: str, host: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile(scenario)),
        "--host",
        host,
        "--progress",
        "0",
        *args,
    ]


def verdict_of(done: Done) -> dict[str, Any]:
    """The run's verdict.json."""
    assert done.folder is not None, done.err
    data: dict[str, Any] = json.loads((done.folder / "verdict.json").read_text())
    return data


def outcomes(verdict: dict[str, Any]) -> dict[str, bool | None]:
    """Each check's id and whether it passed (None: not applicable)."""
    return {c["id"]: c["passed"] for c in verdict["checks"]}


def endpoint_records(records: list[Record], endpoint: str) -> list[Record]:
    return [r for r in records if r.endpoint == endpoint]


def assert_folder_matches_server(done: Done, server: dict[str, Any]) -> None:
    """Every request the server saw is in the run folder, counted the same way."""
    run = done.run()
    totals = run["totals"]
    assert totals["offered"] == server["requests"], (totals, server)
    assert totals["limited"] == server["limited"] == server["statuses"].get("429", 0)
    ok = sum(n for status, n in server["statuses"].items() if int(status) < 400)
    assert totals["accepted"] == ok
    timeline = done.timeline()
    for column, total in (("offered", "offered"), ("accepted", "accepted"), ("limited", "limited")):
        assert sum(row[column] or 0 for row in timeline) == totals[total], column
    assert len(done.records()) == totals["offered"] == run["records"]["written"]


class FakeServer:
    """The fake server (``fakeserver.py``) on a free port: ``with FakeServer(...) as url:``."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> FakeServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fakeserver", *self.args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("fakeserver: listening on "), line
        self.url = line.split()[-1]
        return self

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/fake/stats", timeout=10) as resp:
            data: dict[str, Any] = json.load(resp)
            return data

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def accounts_file(folder: Path, n: int, password: str = "pw") -> Path:
    path = folder / "accounts.csv"
    path.write_text("".join(f"user{k},{password}\n" for k in range(1, n + 1)))
    return path


def bypass_audit(
    folder: Path, url: str, inside: Sequence[str] = (), extra: Sequence[str] = ()
) -> tuple[int, dict[str, Any]]:
    """A plain Locust run of the bypass audit against ``url`` (documented 10/s, burst 20; one
    seeded account; ``extra`` options), started through ``inside`` (``ip netns exec HOST``: from
    that host): its exit code and verdict."""
    proc = subprocess.run(
        [
            *inside,
            *locust_cmd(
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
                *extra,
            ),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (folder / "bypass.json").is_file(), proc.stderr[-3000:]
    verdict: dict[str, Any] = json.loads((folder / "verdict.json").read_text())
    return proc.returncode, verdict


def dodged(verdict: dict[str, Any]) -> set[str]:
    """The bypass audit's vectors that dodged the limit, and login-lockout when failed logins
    lock nothing."""
    return {
        c["id"].removeprefix("no-bypass:")
        for c in verdict["checks"]
        if c["id"].startswith(("no-bypass:", "login-lockout")) and c["passed"] is False
    }
