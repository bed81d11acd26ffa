"""The reference server under abuse: more distinct rate-limit keys than ``--memory-store-size``
(with every algorithm), and two Locust processes hammering it.  Malformed HTTP and oversized
bodies are in test_server_http.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmload.server.limiting import ALGORITHMS
from tests.support import rawhttp
from tests.support.runs import Done, assert_folder_matches_server, mmload_run
from tests.support.server_fixture import ServeFactory, Server

ME = "/api/v4/users/me"
KEYS = 8_000  # distinct keys per round: an unbounded store grows by megabytes with them
STORE = 100
SMALL_GROWTH_KB = 256  # a bounded store's growth over a round: the allocator's noise


def rss_kb(server: Server) -> int:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hit_keys(server: Server, first: int, count: int) -> None:
    """One request for each of ``count`` keys (the X-Key header), pipelined 400 at a time."""
    for start in range(first, first + count, 400):
        keys = range(start, min(first + count, start + 400))
        data = b"".join(rawhttp.request_bytes("GET", ME, {"X-Key": f"key-{k}"}) for k in keys)
        answer = rawhttp.exchange(server.port, data, expect=len(keys))
        assert len(answer.responses) == len(keys)


def growth_kb(server: Server) -> int:
    """What a round of new keys adds to the server's memory, after a round to warm it up."""
    hit_keys(server, 0, KEYS)
    before = rss_kb(server)
    hit_keys(server, KEYS, KEYS)
    return rss_kb(server) - before


def limited_server(serve: ServeFactory, algorithm: str, size: int) -> Server:
    return serve(
        "--algorithm",
        algorithm,
        "--per-sec",
        "1",
        "--max-burst",
        "2",
        "--accounts",
        "1",
        "--vary-by-header",
        "X-Key",
        "--memory-store-size",
        str(size),
    )


@pytest.mark.slow
def test_an_unbounded_store_grows_with_its_keys(serve: ServeFactory) -> None:
    """The measurement below sees what an unbounded store costs (about 200 bytes a key with
    GCRA, the cheapest; the windows take three to four times as much)."""
    grown = growth_kb(limited_server(serve, "gcra", 10 * KEYS))
    assert grown >= 1024, f"{grown} kB for {KEYS} keys"


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_more_keys_than_the_store_holds_keep_memory_bounded(
    serve: ServeFactory, algorithm: str
) -> None:
    server = limited_server(serve, algorithm, STORE)
    drained = rawhttp.burst(server.port, 6, headers={"X-Key": "first"})
    assert drained.statuses[-1] == 429
    grown = growth_kb(server)
    assert grown <= SMALL_GROWTH_KB, f"{grown} kB for {KEYS} keys beyond a store of {STORE}"
    again = rawhttp.burst(server.port, 1, headers={"X-Key": "first"})
    assert again.statuses == [401]  # forgotten: a full bucket or a fresh window again
    stats = server.stats()
    assert stats["settings"]["memory_store_size"] == STORE
    assert stats["requests"] == 6 + 2 * KEYS + 1


@pytest.mark.slow
def test_two_locust_processes_hammering_leave_it_answering(
    serve: ServeFactory, tmp_path: Path
) -> None:
    server = serve("--accounts", "4")
    done: Done = mmload_run(
        tmp_path,
        "--host",
        server.url,
        "--accounts",
        "4",
        "--scenario",
        "hammer",
        "--processes",
        "2",
        "-u",
        "4",
        "-t",
        "5s",
    )
    stats = server.stats()
    assert done.code == 0, done.err
    assert_folder_matches_server(done, stats)  # every request it answered, counted alike
    assert stats["requests"] > 1000  # it was hammered
    token = server.login("user2")  # and still answers, as before
    assert server.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code in (200, 429)
    assert server.proc.poll() is None
