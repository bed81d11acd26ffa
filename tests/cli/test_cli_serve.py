"""``mmload serve`` as a command: help, argument errors, a busy port, stopping on signals."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import pytest

from mmload.dialects import DIALECTS
from mmload.limiter.faults import FAULTS
from mmload.server import ready
from mmload.server.limiting import ALGORITHMS
from tests.support import rawhttp
from tests.support.server_fixture import ROOT, ServeFactory

RUN_TIMEOUT_S = 20.0
STOPPED = re.compile(r"^mmload serve: stopped after (\d+) requests \((\d+) limited\)$")


def mmload(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmload", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def test_help_lists_every_fault_algorithm_and_dialect() -> None:
    result = mmload("serve", "--help")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for name, description in FAULTS.items():
        assert re.search(rf"^\s+{re.escape(name)}\s+{re.escape(description)}$", result.stdout, re.M)
    for choice in (*ALGORITHMS, *DIALECTS):
        assert choice in result.stdout
    assert "ready line" in result.stdout  # the line machines read is documented


BAD_ARGUMENTS = [
    (["--per-sec", "0"], "--per-sec"),
    (["--per-sec", "ten"], "--per-sec"),
    (["--max-burst", "-1"], "--max-burst"),
    (["--port", "70000"], "--port"),
    (["--port", "-1"], "--port"),
    (["--memory-store-size", "0"], "--memory-store-size"),
    (["--accounts", "-3"], "--accounts"),
    (["--fault", "nope"], "--fault"),
    (["--algorithm", "token-bucket"], "--algorithm"),
    (["--dialect", "github"], "--dialect"),
    (["--no-such-option"], "--no-such-option"),
]


@pytest.fixture(scope="module")
def refused() -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    """``mmload serve`` with each of BAD_ARGUMENTS, a process of its own: all started at once
    (each spends its time starting Python), then each waited for, as ``mmload`` would be."""
    started = {
        tuple(args): subprocess.Popen(
            [sys.executable, "-m", "mmload", "serve", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, _ in BAD_ARGUMENTS
    }
    done = {}
    for args, proc in started.items():
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # it took the arguments and served: killed, and failed
            proc.kill()
            out, err = proc.communicate()
        done[args] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


@pytest.mark.parametrize(("args", "mentions"), BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_a_message(
    refused: dict[tuple[str, ...], subprocess.CompletedProcess[str]],
    args: list[str],
    mentions: str,
) -> None:
    result = refused[tuple(args)]

    assert result.returncode == 2, (result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mmload serve: error: ") or last.startswith("mmload: error: "), last
    assert mentions in last
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout


def test_fault_error_names_the_valid_faults(
    refused: dict[tuple[str, ...], subprocess.CompletedProcess[str]],
) -> None:
    result = refused["--fault", "nope"]

    assert result.returncode == 2
    assert all(name in result.stderr for name in FAULTS)


def test_port_in_use_exits_2_naming_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = mmload("serve", "--port", str(port))

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"127.0.0.1:{port}" in result.stderr
    assert "in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_it_with_exit_0_and_a_summary(
    serve: ServeFactory, sig: signal.Signals
) -> None:
    server = serve("--per-sec", "1", "--max-burst", "1")
    answer = rawhttp.burst(server.port, 5)

    code = server.stop(sig)

    assert code == 0, server.stderr()
    assert server.stderr() == ""
    stopped = STOPPED.match(server.lines[-1])
    assert stopped, server.stdout()
    limited = answer.statuses.count(429)
    assert limited >= 2
    assert (int(stopped.group(1)), int(stopped.group(2))) == (5, limited)


def test_it_stops_while_a_client_holds_a_connection_open(serve: ServeFactory) -> None:
    server = serve()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        assert server.get("/api/v4/users/me").status_code == 401  # a kept-alive connection too
        idle.sendall(b"GET /api/v4/users/me HTTP/1.1\r\nHost: x\r\n")  # and a half request

        code = server.stop(signal.SIGTERM)

        assert code == 0, server.stderr()
        assert STOPPED.match(server.lines[-1]), server.stdout()


def test_announcement_names_the_url_settings_accounts_and_hooks(serve: ServeFactory) -> None:
    server = serve("--accounts", "7", "--per-sec", "3", "--max-burst", "4", "--vary-by-user")

    said = server.ready
    assert said is not None and ready.parse(server.lines[0]) == said  # the first line, JSON
    assert re.match(r"^http://127\.0\.0\.1:\d+$", server.url)
    assert said.limits == {
        "per_sec": 3,
        "burst": 4,
        "algorithm": "gcra",
        "dialect": "mattermost",
        "vary_by": ["remote address", "user"],
        "faults": [],
    }
    assert said.limits_text.startswith("rate limit 3/s, burst 4, gcra, mattermost headers")
    assert (said.accounts, said.team, said.cluster) == (7, "mmload", False)
    assert len(server.hooks) == 4
    assert all(url.startswith(server.url + "/hooks/") for url in server.hooks.values())
    assert server.get(said.stats[len(server.url) :]).status_code == 200


def test_announcement_says_when_limiting_is_off(serve: ServeFactory) -> None:
    server = serve("--no-rate-limit")

    assert server.ready is not None and server.ready.limits is None
    assert server.ready.limits_text == "rate limiting off"
    assert "mmload serve: rate limiting off" in server.stdout().splitlines()  # and for people
