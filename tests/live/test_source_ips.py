"""--source-ips: users send from several loopback addresses, so per-address limiting can be
tested from one machine; anything malformed or not this machine's is refused (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from mmload import source_ips
from mmload.harness import source_binding
from mmload.harness.users import key_hash
from tests.support.runs import REPO, assert_folder_matches_server, locust_cmd, mmload_run

TEST_NET = "192.0.2.1"  # RFC 5737: documentation only, never assigned to a machine


def test_ranges_and_lists_name_addresses_in_order() -> None:
    assert source_ips.parse("127.0.0.1-127.0.0.4") == tuple(f"127.0.0.{k}" for k in range(1, 5))
    assert source_ips.parse("127.0.0.9, 127.0.1.254-127.0.2.1") == (
        "127.0.0.9",
        "127.0.1.254",
        "127.0.1.255",
        "127.0.2.0",
        "127.0.2.1",
    )
    assert source_ips.parse("::1") == ("::1",)
    assert [source_ips.pick("127.0.0.1-127.0.0.3", n) for n in range(5)] == [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.1",
        "127.0.0.2",
    ]
    assert source_ips.pick("", 7) == ""


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("127.0.0.1-", "is not an address"),
        ("127.0.0.1-127.0.0.x", "is not an address"),
        ("localhost", "is not an address"),
        ("127.0.0.1,,127.0.0.2", "an empty item"),
        ("", "an empty item"),
        ("127.0.0.4-127.0.0.1", "ends before it starts"),
        ("127.0.0.1-::1", "mixes IPv4 and IPv6"),
        ("127.0.0.1,127.0.0.1-127.0.0.2", "listed twice"),
        ("127.0.0.0-127.0.255.255", "more than 4096"),
    ],
)
def test_malformed_sources_are_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        source_ips.parse(text)


def test_only_this_machines_addresses_are_accepted() -> None:
    assert source_ips.option(" 127.0.0.1-127.0.0.4 ") == "127.0.0.1-127.0.0.4"
    assert source_ips.foreign(("127.0.0.1", "127.255.0.9")) == ""
    assert "192.0.2.1: not an address of this machine" in source_ips.foreign((TEST_NET,))


@pytest.mark.parametrize(
    ("value", "says"),
    [(TEST_NET, "not an address of this machine"), ("127.0.0.9-127.0.0.1", "ends before")],
)
def test_mmload_run_refuses_bad_sources_with_exit_2(value: str, says: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mmload", "run", "--source-ips", value, "-t", "1s"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "--source-ips" in proc.stderr


def test_a_plain_locust_run_refuses_foreign_sources_with_exit_2() -> None:
    cmd = locust_cmd(
        "hammer",
        "http://127.0.0.1:9",
        "--headless",
        "-t",
        "1s",
        "--accounts",
        "1",
        "--source-ips",
        f"127.0.0.1,{TEST_NET}",
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert "not an address of this machine" in proc.stderr


def test_sources_of_the_other_ip_version_than_the_host_are_refused_with_exit_2() -> None:
    assert source_ips.other_family("::1", "http://127.0.0.1:8065").startswith(
        "--source-ips ::1 is IPv6, but 127.0.0.1 is reached over IPv4 only"
    )
    assert source_ips.other_family("127.0.0.1-127.0.0.2", "http://127.0.0.1:8065") == ""
    assert source_ips.other_family("127.0.0.1", "http://[::1]:8065").startswith(
        "--source-ips 127.0.0.1 is IPv4, but ::1 is reached over IPv6 only"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mmload", "run", "--source-ips", "::1", "-t", "1s"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--source-ips ::1 is IPv6" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def peers() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that notes each request's peer address."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(self.client_address[0])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_a_bound_session_sends_every_request_from_its_address(
    peers: tuple[str, list[str]],
) -> None:
    url, seen = peers
    plain = FastHttpSession(url, request_event=EventHook(), user=None)
    chosen = FastHttpSession(url, request_event=EventHook(), user=None)
    source_binding.bind(chosen, "127.0.0.3")
    for session in (plain, chosen, chosen, plain, chosen):
        assert session.get("/").status_code == 200
    assert seen == ["127.0.0.1", "127.0.0.3", "127.0.0.3", "127.0.0.1", "127.0.0.3"]


@pytest.mark.slow
def test_four_addresses_get_four_buckets_across_two_processes(tmp_path: Path) -> None:
    """Against the reference server keyed by address (Mattermost's default): 4 addresses, 8
    users in 2 worker processes, 2 users an address; 4 x the per-address rate in all.  (50/s:
    at 10/s a short hammer tells GCRA from a fixed window by a thin margin.)"""
    done = mmload_run(
        tmp_path,
        "--source-ips",
        "127.0.0.1-127.0.0.4",
        "--processes",
        "2",
        "-u",
        "8",
        "-t",
        "7s",
        "--accounts",
        "8",
        "--server-per-sec",
        "50",
        "--documented-limit",
        "50/s",
        "--documented-burst",
        "100",
    )
    assert done.code == 0, done.err
    assert done.folder is not None
    assert_folder_matches_server(done, json.loads((done.folder / "server.json").read_text()))
    verdict = json.loads((done.folder / "verdict.json").read_text())
    measured = verdict["measured"]
    assert measured["scope"] == "per-address" and measured["buckets"] == 4, measured
    assert abs(measured["rate_per_s"] - 50) <= 0.05 * 50, measured
    # the records' sources are the addresses the users were bound to, 2 users each
    users: dict[str, set[str]] = defaultdict(set)
    for r in done.records():
        users[r.source].add(r.user)
    addresses = [f"127.0.0.{k}" for k in range(1, 5)]
    assert sorted(users) == sorted(key_hash("addr", a) for a in addresses)
    assert all(len(u - {""}) == 2 for u in users.values()), users  # "": its logins
    # the aggregate accepted rate, once the bursts are spent: 4 x the per-address rate
    accepted = [r.sent for r in done.records() if r.status == 200 and r.endpoint.startswith("GET")]
    start, end = done.run()["load_started"] + 2, max(accepted) - 0.5
    rate = sum(1 for t in accepted if start <= t < end) / (end - start)
    assert abs(rate - 4 * measured["rate_per_s"]) <= 0.1 * 4 * measured["rate_per_s"], rate
    assert done.run()["settings"]["source_ips"] == "127.0.0.1-127.0.0.4"
