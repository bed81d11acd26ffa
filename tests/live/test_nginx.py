"""A real rate limiter: nginx's ``limit_req`` in front of the reference server with its own
limiting off.  nginx sends no rate-limit header, so mmload measures its rate and burst from
acceptances alone.

nginx's ``rate=10r/s burst=20 nodelay`` is a bucket of 21 that refills at 10/s: the first request
of a fresh key, then ``burst`` more at once, then one per 100 ms (nginx counts the excess in
milliseconds).  The verdict's ``burst`` is what it lets through beyond the rate, less the one
request any bucket admits: nginx's ``burst``, as ``--documented-burst`` says it.

nginx refuses with 503 unless ``limit_req_status`` says otherwise: a run told so
(``--limited-status 429,503``) counts those 503s as refusals, retries the logins they refused,
and measures nginx as it measures a 429.  Each configuration (503 or 429, a burst of 5 or 100) is
run once per module, on the first test that asks for it (:func:`runs`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.nginx import NGINX, Limit, Nginx, proxy_http
from tests.support.runs import REPO, Done, mmload_run, outcomes, verdict_of
from tests.support.server_fixture import ServeFactory, Server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(NGINX).exists(), reason=f"{NGINX} is not installed (nginx-light)"),
]
ACCOUNTS = 12
LIMIT = Limit(per_sec=10, burst=20)
ME = "/api/v4/users/me"
LOGIN = "POST /api/v4/users/login"
NGINX_DEFAULT = 503  # limit_req's answer without limit_req_status


@dataclass(frozen=True)
class Case:
    """nginx refusing with ``limit.status`` (None: its default, 503), and how long the probe
    must run to saturate the bucket long enough to measure the rate within the tolerance.  After
    its burst and a second's pause the probe must first drain what the pause refilled (6 for a
    burst of 5, 10 for a burst of 100) at 1.1x and 1.25x the rate before it sees refusals: 8 s
    saturate a burst of 5 for about 5 s; steps of 2 s make 11 s do for a burst of 100 (4 s)."""

    limit: Limit
    timing: tuple[str, ...]

    @property
    def refused_with(self) -> int:
        return self.limit.status or NGINX_DEFAULT

    @property
    def limited_status(self) -> str:
        return "429" if self.refused_with == 429 else f"429,{self.refused_with}"


SMALL, LARGE = ("-t", "8s"), ("-t", "11s", "--step-time", "2")
CASES = {
    "503-burst-5": Case(Limit(per_sec=10, burst=5, status=None), SMALL),
    "503-burst-100": Case(Limit(per_sec=10, burst=100, status=None), LARGE),
    "429-burst-5": Case(Limit(per_sec=10, burst=5, status=429), SMALL),
    "429-burst-100": Case(Limit(per_sec=10, burst=100, status=429), LARGE),
}
Runs = Callable[[str], Done]


@pytest.fixture(scope="module")
def backend(serve_for_module: ServeFactory) -> Server:
    """The reference server, limiting nothing: whatever is refused, nginx refused."""
    return serve_for_module("--no-rate-limit", "--accounts", str(ACCOUNTS))


def limiting(tmp: Path, backend: Server, limit: Limit = LIMIT) -> Nginx:
    return Nginx.start(tmp / "nginx", lambda port: proxy_http(port, [backend.url], limit))


def run_through(tmp: Path, url: str, seconds: int, *documented: str, users: int = 4) -> Done:
    """The probe (mmload run's scenario for --host): the documented burst and 5 more at once, a
    second's pause, then 1.1, 1.25 and 1.5x the documented rate, a third of the rest each."""
    return mmload_run(
        tmp / "runs",
        "--host",
        url,
        "--accounts",
        str(ACCOUNTS),
        "-u",
        str(users),
        "-t",
        f"{seconds}s",
        *documented,
        timeout=60,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, backend: Server) -> Runs:
    """``runs(name)``: the run of ``CASES[name]``, made on first use, each through an nginx of
    its own (a fresh bucket), told the refusal statuses and documented as nginx is configured.
    12 users log in at once: a burst of 5 (6 at once) refuses about 6 of the logins."""
    done: dict[str, Done] = {}

    def run(name: str) -> Done:
        if name not in done:
            case, tmp = CASES[name], tmp_path_factory.mktemp(name)
            with limiting(tmp, backend, case.limit) as nginx:
                started = time.monotonic()
                done[name] = mmload_run(
                    tmp / "runs",
                    "--host",
                    nginx.url,
                    "--accounts",
                    str(ACCOUNTS),
                    "-u",
                    str(ACCOUNTS),
                    *case.timing,
                    "--limited-status",
                    case.limited_status,
                    "--documented-limit",
                    f"{case.limit.per_sec}/s",
                    "--documented-burst",
                    str(case.limit.burst),
                    timeout=60,
                )
                print(f"{name}: mmload run took {time.monotonic() - started:.1f} s")
        return done[name]

    return run


def test_burst_n_nodelay_admits_n_plus_one_at_once(tmp_path: Path, backend: Server) -> None:
    with limiting(tmp_path, backend) as nginx, requests.Session() as session:
        start = time.monotonic()
        statuses = [session.get(nginx.url + ME, timeout=10).status_code for _ in range(40)]
        elapsed = time.monotonic() - start
    accepted = sum(1 for s in statuses if s != 429)
    assert statuses[: LIMIT.burst + 1].count(429) == 0, statuses
    # refills while the 40 requests went: 10/s x elapsed (on a busy host, more than none)
    assert LIMIT.burst + 1 <= accepted <= LIMIT.burst + 1 + LIMIT.per_sec * elapsed + 1, statuses
    assert 429 in statuses


def test_return_answers_before_limit_req_so_only_proxied_routes_are_limited(
    tmp_path: Path, backend: Server
) -> None:
    """``return`` runs in nginx's rewrite phase, ``limit_req`` in the later preaccess phase: a
    location that answers with ``return`` is never limited, whatever its ``limit_req``."""
    returned = 'location = /ping { limit_req zone=api nodelay; return 200 "pong"; }'

    def http(port: int) -> str:
        proxied = proxy_http(port, [backend.url], Limit(per_sec=1, burst=0))
        return proxied.replace("location / {", returned + "\n    location / {", 1)

    with Nginx.start(tmp_path / "nginx", http) as nginx, requests.Session() as session:
        pings = [session.get(nginx.url + "/ping", timeout=10).status_code for _ in range(10)]
        proxied = [session.get(nginx.url + ME, timeout=10).status_code for _ in range(10)]
    assert pings == [200] * 10
    assert 429 in proxied


@pytest.mark.parametrize("name", CASES)
def test_a_run_told_nginxs_refusal_status_counts_it_as_limited_and_retries_logins(
    runs: Runs, backend: Server, name: str
) -> None:
    case, done = CASES[name], runs(name)
    refusal = str(case.refused_with)
    assert done.folder is not None and "Traceback" not in done.err, done.err
    run = done.run()
    assert run["settings"]["limited_status"] == [int(s) for s in case.limited_status.split(",")]
    totals, endpoints = run["totals"], run["endpoints"]
    refused = sum(statuses.get(refusal, 0) for statuses in endpoints.values())
    assert totals["limited"] == refused > 0 and totals["error"] == 0, (totals, endpoints)
    assert sum(row["limited"] or 0 for row in done.timeline()) == refused
    # every account logged in; a refused login waited and tried again: none failed
    logins = run["logins"]
    assert logins["succeeded"] == ACCOUNTS and run["exit"]["reason"] == "", run["exit"]
    assert logins["attempted"] == ACCOUNTS + logins["limited"]
    assert endpoints[LOGIN].get(refusal, 0) == logins["limited"]
    if case.limit.burst < ACCOUNTS:  # 6 at once: some logins were refused
        assert logins["limited"] > 0 and f"{LOGIN} [{refusal} limited]" in done.err
    assert "login failed" not in done.err
    assert f"GET {ME} [{refusal} limited]" in done.err  # Locust's own stats row
    statuses = backend.stats()["statuses"]
    assert "429" not in statuses and "503" not in statuses  # the reference server refused nothing
    assert done.code in (0, 4), done.err  # never a failure; 8 s may leave the rate undecided


@pytest.mark.parametrize("name", CASES)
def test_mmload_measures_nginx_from_acceptances_and_passes_as_documented(
    runs: Runs, name: str
) -> None:
    case, done = CASES[name], runs(name)
    verdict = verdict_of(done)
    m = verdict["measured"]
    # the intervals hold nginx's configuration; a correct nginx is never failed
    # (a busy machine may leave them unmeasured: then the check is undecided, never failed)
    if m["rate_low"] is not None:
        assert m["rate_low"] <= case.limit.per_sec <= (m["rate_high"] or float("inf")), m
    if m["burst_low"] is not None:
        assert m["burst_low"] <= case.limit.burst <= m["burst_high"], m  # beyond the rate
    assert verdict["advertised"]["dialect"] is None  # nginx says nothing: acceptances alone
    assert verdict["outcome"] != "fail", verdict["summary"]
    checks = outcomes(verdict)
    assert checks["limit-enforced"] is True, verdict["summary"]
    if case.limit.burst >= ACCOUNTS:  # the logins did not drain it: the probe decides all
        for check in ("rate-matches-documented", "burst-matches-documented"):
            assert checks[check] is True, (check, verdict["summary"])
    # VERDICT: with a burst of 5, the 2 logins nginx refused (8 at once) are retried a second
    # later, as the probe's burst goes out; the verdict then says no-limiting-below-limit is "not
    # decided: 5 refusals came while a bucket that started the run full would have been within
    # 10/s burst 5, but nothing says how full it was (no headers): a previous run may have left
    # it half empty" (passed: None; with 4 users, no login refused, it passes).  Never False:
    below = checks["no-limiting-below-limit"]
    assert below is True or (below is None and case.limit.burst < ACCOUNTS), verdict["summary"]
    # only warnings: no Retry-After, and nginx's own error page in front of a Mattermost API
    warned = {c["id"] for c in verdict["checks"] if c["passed"] is False}
    assert warned <= {"retry-after-honest", "mattermost-responses"}, verdict["summary"]


def test_verify_fails_the_same_run_on_another_documented_burst(tmp_path: Path, runs: Runs) -> None:
    """nginx's burst of 100 against a documented 20: more went through than documented."""
    done = runs("429-burst-100")
    assert done.folder is not None, done.err
    folder = shutil.copytree(done.folder, tmp_path / "run")  # verify rewrites the verdict
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmload",
            "verify",
            str(folder),
            "--documented-limit",
            "10/s",
            "--documented-burst",
            "20",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout.splitlines()[0]
    assert summary.startswith("FAIL") and "burst-matches-documented" in summary, summary
    assert "rate-matches-documented" not in summary


def test_verify_takes_the_refusal_statuses_the_run_was_told_unless_given(
    tmp_path: Path, runs: Runs
) -> None:
    """mmload verify counts what the run was told (run.json); --limited-status 429 makes the
    same run's 503s errors: nothing was refused, and the verdict cannot pass."""
    done = runs("503-burst-5")
    assert done.folder is not None, done.err
    folder = shutil.copytree(done.folder, tmp_path / "run")

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mmload", "verify", str(folder), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )

    told = verify()
    assert verdict_of(Done(told.returncode, "", "", folder))["limited_status"] == [429, 503]
    assert told.returncode == done.code, told.stdout + told.stderr
    untold = verify("--limited-status", "429")
    assert "Traceback" not in untold.stderr
    assert verdict_of(Done(untold.returncode, "", "", folder))["limited_status"] == [429]
    assert untold.returncode != 0, untold.stdout


def test_a_run_not_told_of_nginxs_503_counts_them_as_errors_without_crashing(
    tmp_path: Path, backend: Server
) -> None:
    """Without --limited-status, nginx's 503s are errors: logins they refused failed, and the
    run ends with a verdict or says it could not be done, never a traceback."""
    with limiting(tmp_path, backend, Limit(per_sec=10, burst=5, status=None)) as nginx:
        done = run_through(
            tmp_path,
            nginx.url,
            4,
            "--documented-limit",
            "10/s",
            "--documented-burst",
            "5",
            users=ACCOUNTS,
        )
    assert done.code in (0, 1, 3, 4), done.err
    assert "Traceback" not in done.err and done.folder is not None, done.err
    run = done.run()
    assert run["settings"]["limited_status"] == [429]
    refused = sum(statuses.get("503", 0) for statuses in run["endpoints"].values())
    assert refused > 0 and run["totals"]["error"] == refused, run["totals"]
    assert run["totals"]["limited"] == 0


def test_a_run_documented_with_another_rate_fails_with_exit_1(
    tmp_path: Path, backend: Server
) -> None:
    with limiting(tmp_path, backend) as nginx:
        done = run_through(
            tmp_path, nginx.url, 8, "--documented-limit", "20/s", "--documented-burst", "20"
        )
    assert done.code == 1, done.err
    verdict = verdict_of(done)
    assert abs(verdict["measured"]["rate_per_s"] - LIMIT.per_sec) <= 0.5, verdict["measured"]
    checks = outcomes(verdict)
    assert checks["rate-matches-documented"] is False and checks["burst-matches-documented"]
    assert "FAIL" in done.err and "rate-matches-documented" in done.err
