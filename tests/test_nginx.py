"""A real rate limiter: nginx's ``limit_req`` in front of the reference server with its own
limiting off.  nginx sends no rate-limit header, so mmload measures its rate and burst from
acceptances alone.

nginx's ``rate=10r/s burst=20 nodelay`` is a bucket of 21 that refills at 10/s: the first request
of a fresh key, then ``burst`` more at once, then one per 100 ms (nginx counts the excess in
milliseconds).  The verdict's ``burst`` is what it lets through beyond the rate, less the one
request any bucket admits: nginx's ``burst``, as ``--documented-burst`` says it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ServeFactory
from tests.nginx import NGINX, Limit, Nginx, proxy_http
from tests.runs import REPO, Done, mmload_run, outcomes, verdict_of
from tests.server_fixture import Server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(NGINX).exists(), reason=f"{NGINX} is not installed (nginx-light)"),
]
ACCOUNTS = 4
LIMIT = Limit(per_sec=10, burst=20)
ME = "/api/v4/users/me"


@pytest.fixture(scope="module")
def backend(serve_for_module: ServeFactory) -> Server:
    """The reference server, limiting nothing: whatever is refused, nginx refused."""
    return serve_for_module("--no-rate-limit", "--accounts", str(ACCOUNTS))


def limiting(tmp: Path, backend: Server, limit: Limit = LIMIT) -> Nginx:
    return Nginx.start(tmp / "nginx", lambda port: proxy_http(port, [backend.url], limit))


def run_through(tmp: Path, url: str, seconds: int, *documented: str) -> Done:
    """The probe (mmload run's scenario for --host): the documented burst and 5 more at once, a
    second's pause, then 1.1, 1.25 and 1.5x the documented rate, a third of the rest each."""
    return mmload_run(tmp / "runs", "--host", url, "--accounts", str(ACCOUNTS), "-u", "4",
                      "-t", f"{seconds}s", *documented, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def documented_run(
    tmp_path_factory: pytest.TempPathFactory, backend: Server
) -> Iterator[tuple[Done, Server]]:
    """One run documented as nginx is configured, 10/s and burst 20.  The probe saturates the
    bucket once its steps have drained what the pause refilled: from about the middle of 12 s."""
    tmp = tmp_path_factory.mktemp("nginx")
    with limiting(tmp, backend) as nginx:
        yield run_through(tmp, nginx.url, 12, "--documented-limit", "10/s",
                          "--documented-burst", "20"), backend  # fmt: skip


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


def test_mmload_measures_nginx_from_acceptances_and_passes_as_documented(
    documented_run: tuple[Done, Server],
) -> None:
    done, backend = documented_run
    assert done.code == 0, done.err
    verdict = verdict_of(done)
    m = verdict["measured"]
    assert abs(m["rate_per_s"] - LIMIT.per_sec) <= 0.05 * LIMIT.per_sec, m
    assert abs(m["burst"] - LIMIT.burst) <= 1, m  # what went through beyond the measured rate
    assert verdict["advertised"]["dialect"] is None  # nginx says nothing: acceptances alone
    checks = outcomes(verdict)
    for check in ("limit-enforced", "rate-matches-documented", "burst-matches-documented",
                  "no-limiting-below-limit"):  # fmt: skip
        assert checks[check] is True, (check, verdict["summary"])
    # only warnings: no Retry-After, and nginx's own 429 page in front of a Mattermost API
    warned = {c["id"] for c in verdict["checks"] if c["passed"] is False}
    assert warned <= {"retry-after-honest", "mattermost-responses"}, verdict["summary"]
    assert done.run()["totals"]["limited"] > 0
    assert "429" not in backend.stats()["statuses"]  # the reference server refused nothing


def test_verify_fails_the_same_run_on_another_documented_burst(
    tmp_path: Path, documented_run: tuple[Done, Server]
) -> None:
    done, _ = documented_run
    assert done.folder is not None, done.err
    folder = shutil.copytree(done.folder, tmp_path / "run")  # verify rewrites the verdict
    proc = subprocess.run(
        [sys.executable, "-m", "mmload", "verify", str(folder), "--documented-limit",
         "10/s", "--documented-burst", "50"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout.splitlines()[0]
    assert summary.startswith("FAIL") and "burst-matches-documented" in summary, summary
    assert "rate-matches-documented" not in summary


def test_a_run_documented_with_another_rate_fails_with_exit_1(
    tmp_path: Path, backend: Server
) -> None:
    with limiting(tmp_path, backend) as nginx:
        done = run_through(tmp_path, nginx.url, 8, "--documented-limit", "20/s",
                           "--documented-burst", "20")  # fmt: skip
    assert done.code == 1, done.err
    verdict = verdict_of(done)
    assert abs(verdict["measured"]["rate_per_s"] - LIMIT.per_sec) <= 0.5, verdict["measured"]
    checks = outcomes(verdict)
    assert checks["rate-matches-documented"] is False and checks["burst-matches-documented"]
    assert "FAIL" in done.err and "rate-matches-documented" in done.err
