"""A route documented with a limit of its own: ``--documented-limit 'METHOD /path=RATE'`` beside
the general one, on ``mmload verify`` and ``mmload run`` (and a plain Locust run, which shares the
option table); its buckets are measured and judged on their own."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmload import options
from mmload.limiter.rate import Documented, RouteLimit
from tests.support.synth import Route, write_folder
from tests.support.synth_world import CREATE_POST
from tests.support.worlds import TWO, world

POSTS = f"{CREATE_POST}=1/s"
REPO = Path(__file__).resolve().parents[2]


def test_the_option_reads_a_rate_or_a_route() -> None:
    assert options.documented_text("10/s") == "10/s"
    assert options.documented_text("POST /api/v4/users/login=10/min").endswith("10/min")
    for bad in ("ten", "POST /api/v4/users/login=ten", "POST=10/s"):
        with pytest.raises(argparse.ArgumentTypeError):
            options.documented_text(bad)


def test_routes_stand_beside_the_general_rate_and_the_default_one() -> None:
    both = options.documented(["20/s", "POST /api/v4/users/login=10/min"], 5)
    assert (both.per_sec, both.burst) == (20.0, 5)
    assert both.routes == (RouteLimit("POST /api/v4/users/login", 10 / 60),)
    alone = options.documented(["POST /api/v4/users/login=10/min"], None)
    assert (alone.per_sec, alone.burst) == (10.0, 100)  # Mattermost's, beside the route
    assert options.documented(None, None) == Documented.resolve()


def test_two_general_rates_are_refused_with_the_route_syntax_named() -> None:
    message = options.documented_refusal(["10/s", "20/s"])
    assert "10/s and 20/s" in message and "METHOD /path=RATE" in message
    assert options.documented_refusal(["10/s", POSTS]) == ""


def verify(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmload", "verify", str(folder), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_verify_judges_a_documented_route_on_its_own_buckets(tmp_path: Path) -> None:
    """General 10/s burst 100 for GET /users/me; POST /posts 1/s burst 5 in its own bucket."""
    plan = world("routes", endpoints=TWO, routes=(Route(CREATE_POST, 1, 5),)).plan(1)
    folder = write_folder(tmp_path / "run", plan)
    right = verify(
        folder,
        "--documented-limit",
        "10/s",
        "--documented-burst",
        "100",
        "--documented-limit",
        POSTS,
    )
    assert right.returncode in (0, 4) and "Traceback" not in right.stderr, right.stdout
    verdict = json.loads((folder / "verdict.json").read_text())
    rate = next(c for c in verdict["checks"] if c["id"] == "rate-matches-documented")
    assert rate["passed"] is not False and CREATE_POST in rate["expected"], rate
    wrong = verify(folder, "--documented-limit", f"{CREATE_POST}=3/s")  # the route is 1/s
    assert wrong.returncode == 1, wrong.stdout
    rate = next(
        c
        for c in json.loads((folder / "verdict.json").read_text())["checks"]
        if c["id"] == "rate-matches-documented"
    )
    assert rate["passed"] is False and f"on {CREATE_POST}" in rate["observed"], rate


def test_verify_refuses_two_general_rates(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "run", world("gcra").plan(1))
    done = verify(folder, "--documented-limit", "10/s", "--documented-limit", "20/s")
    assert done.returncode == 2 and "gives the general rate once" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_run_refuses_two_general_rates_before_it_starts_anything() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmload",
            "run",
            "--documented-limit",
            "10/s",
            "--documented-limit",
            "20/s",
            "-t",
            "1s",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "gives the general rate once" in done.stderr, done.stderr
