"""``mmload run`` against servers that misbehave (``support/fakeserver.py``): garbage and enormous
rate-limit headers, a login without ``Token``, bodies that are not JSON, connections reset in the
middle of an answer, answers slower than ``--request-timeout``.  Each gives a clear finding of the
verdict or a clear error (exit 3), never a traceback, and loses no request: every one the server
received is in the run folder, counted the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.runs import Done, FakeServer, accounts_file, mmload_run

pytestmark = pytest.mark.slow

SHORT = ("-u", "2", "-t", "2s")
CUT_AT_THE_END = "no answer before the run ended"


def run_against(tmp_path: Path, server_args: list[str], *args: str) -> tuple[Done, dict[str, Any]]:
    with FakeServer(*server_args) as fake:
        done = mmload_run(
            tmp_path,
            "--host",
            fake.url,
            "--accounts",
            str(accounts_file(tmp_path, 2)),
            *SHORT,
            *args,
        )
        stats = fake.stats()
    assert "Traceback" not in done.err, done.err
    return done, stats


def assert_nothing_lost(done: Done, stats: dict[str, Any]) -> None:
    """Every request is in records.bin, the timeline and the totals alike, and the server
    received each of them (a request a user was killed in at the very end may not have left)."""
    run, records = done.run(), done.records()
    offered = run["totals"]["offered"]
    assert len(records) == offered == run["records"]["written"]
    assert sum(row["offered"] or 0 for row in done.timeline()) == offered
    cut = sum(1 for r in records if CUT_AT_THE_END in r.error)
    assert stats["received"] <= offered <= stats["received"] + cut, (stats, run["totals"])


@pytest.mark.parametrize(
    ("server_args", "shown"),
    [
        (
            [
                "--header",
                "X-Ratelimit-Limit: garbage",
                "--header",
                "X-Ratelimit-Remaining: 1e3",
                "--header",
                "X-Ratelimit-Reset: -5",
                "--header",
                "Retry-After: soon",
            ],
            "'garbage'",
        ),
        (["--big-header", "X-Ratelimit-Remaining=100000"], "x-ratelimit-remaining: '999"),
    ],
    ids=["garbage", "100-kB"],
)
def test_unreadable_rate_limit_headers_are_a_finding(
    tmp_path: Path, server_args: list[str], shown: str
) -> None:
    done, stats = run_against(tmp_path, server_args)
    # the headers say nothing; nothing else is wrong (a short run may not reach the limit: 4)
    assert done.code in (0, 4), done.err
    assert "headers-well-formed" in done.err and shown in done.err
    assert_nothing_lost(done, stats)
    me = [r for r in done.records() if r.endpoint.endswith("/users/me")]
    assert me and all(r.error.startswith("malformed ") and r.remaining is None for r in me)
    assert done.folder is not None  # an enormous header is quoted, never kept whole
    assert (done.folder / "records.bin").stat().st_size < 50_000


def test_a_login_without_token_is_a_clear_error(tmp_path: Path) -> None:
    """A login answered 200 without a Token header is not a successful login: the run exits 3
    saying so, with no login succeeded."""
    done, stats = run_against(tmp_path, ["--login-token="])
    assert done.code == 3, done.err
    assert "without a Token header" in done.err and "no login succeeded (2 attempts)" in done.err
    assert done.run()["logins"]["succeeded"] == 0
    assert_nothing_lost(done, stats)


def test_bodies_that_are_not_json_stop_the_users_that_need_them(tmp_path: Path) -> None:
    """Bodies that are not JSON stop the mixed scenario's users, which need a list of channel
    ids, with a clear message and a note in run.json, and the run exits 3."""
    done, stats = run_against(
        tmp_path,
        ["--body", "<html>Welcome</html>", "--content-type", "text/html"],
        "--scenario",
        "mixed",
    )
    assert done.code == 3, done.err
    assert "mixed found no channels for user1: no list of ids" in done.err
    assert "2 user(s) stopped before the end of the run: no channels (2)" in done.run()["notes"]
    assert_nothing_lost(done, stats)


def test_error_pages_that_are_not_json_are_described_not_kept(tmp_path: Path) -> None:
    done, stats = run_against(
        tmp_path,
        ["--status", "502", "--body", "<html>Bad gateway</html>", "--content-type", "text/html"],
    )
    assert done.code == 3, done.err
    assert "never answered a request successfully (statuses: 200, 502)" in done.err
    run = done.run()
    assert run["error_bodies"]["502"] and "Bad gateway" not in str(run["error_bodies"])
    assert_nothing_lost(done, stats)


def test_connections_reset_mid_answer_are_errors_not_acceptances(tmp_path: Path) -> None:
    """An answer cut short after its status line is an error (status 0, "HTTP 200, then: "),
    not an acceptance: only whole answers are accepted."""
    done, stats = run_against(tmp_path, ["--reset-every", "2"])
    assert done.code == 3, done.err  # half the requests failed: impaired
    assert "the run was impaired: 50% of the requests other than logins failed" in done.err
    totals = done.run()["totals"]
    assert totals["accepted"] == stats["answered"]  # only whole answers are acceptances
    reset = [r for r in done.records() if "reset" in r.error.lower()]
    assert len(reset) == stats["resets"] and all(r.status == 0 for r in reset)
    assert reset[0].error.startswith("HTTP 200, then: ")
    assert_nothing_lost(done, stats)


def test_answers_slower_than_the_request_timeout_are_errors(tmp_path: Path) -> None:
    done, stats = run_against(
        tmp_path, ["--delay", "3"], "--request-timeout", "1", "--", "--stop-timeout", "2"
    )
    assert done.code == 3, done.err
    assert "never answered a request successfully (statuses: no answer, 200)" in done.err
    me = [r for r in done.records() if r.endpoint.endswith("/users/me")]
    timed_out = [r for r in me if "timed out" in r.error]
    assert me and all(r.status == 0 for r in me)
    assert all(r in timed_out or CUT_AT_THE_END in r.error for r in me)
    assert timed_out and all(900 <= r.latency_ms <= 2_500 for r in timed_out)
    assert_nothing_lost(done, stats)
