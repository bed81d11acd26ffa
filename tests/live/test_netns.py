"""Real hosts on one machine: the across-machines recipe and the bypass audit behind a proxy, run
over a network of Linux network namespaces (``tests/support/netns.py``), each host with its own
address of 198.18.7.0/24.  Locust's master on M and a worker on each of A and B, over TCP to M's
address, against the reference server on S: exact totals, and one bucket per worker host.  The
bypass audit from A through nginx on P, which passes the client's address in ``X-Real-IP`` to S
(keyed by that header, as Mattermost's VaryByHeader behind nginx): no bypass; straight at S, the
same audit dodges the limit with ``X-Real-IP``.  Root only: skipped, saying why, elsewhere."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mmload.harness.users import key_hash
from mmload.results.folder import read_run
from tests.support.netns import Host, HostServer, Network, Unavailable, namespaces, pids_in
from tests.support.nginx import NGINX, proxy_http
from tests.support.runs import (
    REPO,
    Done,
    assert_folder_matches_server,
    bypass_audit,
    dodged,
    locust_cmd,
    verdict_of,
)

HOSTS = ("a", "b", "p", "s", "m")  # clients A and B, the proxy P, the server S, the master M
MASTER_PORT = "5557"  # Locust's, on M's own address: each host has all its ports to itself
RUN_TIMEOUT_S = 90
needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason=f"{NGINX} is not installed")

ServeOn = Callable[..., HostServer]  # serve_on(host, *args): mmload serve on that host


@pytest.fixture(scope="module", autouse=True)
def namespaces_work() -> None:
    """Every test here is skipped, saying why, where no network of namespaces can be built."""
    try:
        with Network(()):
            pass
    except Unavailable as exc:
        pytest.skip(f"no network namespaces for test hosts: {exc}")


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    with Network(HOSTS) as built:
        yield built


@pytest.fixture
def net(network: Network) -> Iterator[Network]:
    """The module's network; whatever a test leaves running in it is stopped after the test."""
    yield network
    network.stop_processes()


@pytest.fixture
def serve_on(net: Network) -> Iterator[ServeOn]:
    """``serve_on(host, *args)``: ``mmload serve`` on ``host``; each must stop cleanly on
    SIGTERM at the end, without a traceback."""
    started: list[HostServer] = []

    def start(host: Host, *args: str) -> HostServer:
        started.append(net.serve(host, *args))
        return started[-1]

    yield start
    problems = []
    for server in started:
        code = server.stop()
        if code != 0 or "Traceback" in server.stderr():
            problems.append(f"{server.command} exited {code}:\n{server.stderr()}")
        server.close()
    assert not problems, "\n".join(problems)


def test_a_torn_down_network_leaves_no_namespace_link_or_process() -> None:
    """Teardown, on KeyboardInterrupt too, stops every process inside the hosts (one that
    ignores SIGTERM as well) and deletes every namespace, and the links with them."""
    network = Network(("a", "b"), stop_grace=0.5)
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring SIGTERM', flush=True); time.sleep(60)"
    )
    with pytest.raises(KeyboardInterrupt), network as net:
        assert {net.switch, net["a"].netns, net["b"].netns} <= set(namespaces())
        assert net["a"].address != net["b"].address
        procs = [
            net.popen(net["a"], ["sleep", "60"]),
            net.popen(net["b"], [sys.executable, "-c", stubborn], stdout=subprocess.PIPE),
        ]
        said = procs[1].stdout
        assert said is not None and said.readline() == b"ignoring SIGTERM\n"
        said.close()
        assert all(pids_in(host.netns) for host in (net["a"], net["b"]))
        raise KeyboardInterrupt
    assert network.leftovers() == []
    assert [proc.returncode for proc in procs] == [-signal.SIGTERM, -signal.SIGKILL]
    assert not [name for name in namespaces() if name.startswith(network.prefix)]


def steady_on(net: Network, host: Host, url: str, args: str, log: Path) -> subprocess.Popen[str]:
    """Locust's steady scenario on ``host`` against ``url``; ``args`` split on spaces; its
    output to ``log``."""
    with log.open("w") as out:  # the child has its own copy of the file
        return net.popen(
            host,
            locust_cmd("steady", url, *args.split()),
            cwd=REPO,
            text=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.slow
def test_master_and_workers_on_three_hosts_merge_exact_totals_one_bucket_per_host(
    net: Network, serve_on: ServeOn, tmp_path: Path
) -> None:
    """docs/distributed.md's across-machines recipe: the master on M, a worker on each of A and
    B, the reference server on S keyed by the client's address (Mattermost's default).  Every
    request the workers sent is in the run folder and was counted by S, and the verdict finds
    one bucket per worker host, at the documented rate.  The load is paced (4x each bucket's
    rate), not a hammer: three Locust processes hammering on two cores send too irregularly
    for a short run's rate to be measured."""
    a, b, m = net["a"], net["b"], net["m"]
    server = serve_on(net["s"], "--per-sec", "10", "--max-burst", "20", "--accounts", "4")
    folder, stats_file = tmp_path / "run", tmp_path / "locust"
    master = steady_on(
        net,
        m,
        server.url,
        f"--master --master-bind-host {m.address} --master-bind-port {MASTER_PORT} "
        "--expect-workers 2 --headless -u 4 -r 4 -t 6s --accounts 4 --rate-factor 8 "
        "--documented-limit 10/s --documented-burst 20 "
        f"--run-dir {folder} --only-summary --json-file {stats_file}",
        tmp_path / "master.log",
    )
    worker = f"--worker --master-host {m.address} --master-port {MASTER_PORT}"
    workers = [steady_on(net, h, server.url, worker, tmp_path / f"{h.name}.log") for h in (a, b)]
    codes = [proc.wait(timeout=RUN_TIMEOUT_S) for proc in (master, *workers)]
    out = "".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in tmp_path.glob("*.log"))
    assert codes[0] in (0, 4) and codes[1:] == [0, 0], out
    stats = server.stats()
    done = Done(codes[0], "", out, folder)
    # exact: what the workers sent (Locust's own stats), the run folder, what S counted
    assert_folder_matches_server(done, stats)
    run = done.run()
    sent = sum(e["num_requests"] for e in json.loads(Path(f"{stats_file}.json").read_text()))
    assert sent == run["totals"]["offered"] == stats["requests"]
    assert run["logins"]["succeeded"] == stats["logins"] == 4
    assert run["missing_workers"] == []
    # each worker host's users sent from its own address: two sources, two users each
    users: dict[str, set[str]] = defaultdict(set)
    for r in done.records():
        users[r.source].add(r.user)
    assert sorted(users) == sorted(key_hash("addr", h.address) for h in (a, b)), users
    assert all(len(u - {""}) == 2 for u in users.values()), users  # "": its logins
    # per address, one bucket per host, at S's rate; a pass, or on a busy host a rate interval
    # still reaching across the tolerance's edge
    verdict = verdict_of(done)
    measured = verdict["measured"]
    assert verdict["outcome"] in ("pass", "inconclusive"), verdict["summary"]
    assert measured["scope"] == "per-address" and measured["buckets"] == 2, measured
    assert abs(measured["rate_per_s"] - 10) <= 0.05 * 10, measured


GCRA = ("--per-sec", "10", "--max-burst", "20", "--accounts", "1")
BY_REAL_IP = ("--vary-by-header", "X-Real-IP")  # Mattermost's VaryByHeader, behind nginx


def audited(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The no-bypass checks: every vector was tried and decided."""
    found = [c for c in verdict["checks"] if c["id"].startswith("no-bypass:")]
    assert len(found) == 20 and all(c["passed"] is not None for c in found), found
    return found


@needs_nginx
@pytest.mark.slow
def test_the_bypass_audit_through_a_proxy_that_sets_x_real_ip_finds_no_bypass(
    net: Network, serve_on: ServeOn, tmp_path: Path
) -> None:
    """nginx on P replaces whatever X-Real-IP a client sends with the client's address, and
    believes the header only from P itself: A cannot choose its key at S."""
    a, p = net["a"], net["p"]
    server = serve_on(net["s"], *GCRA, *BY_REAL_IP)
    proxied = proxy_http(80, [server.url], address=p.address, real_ip_from=[p.address])
    with net.nginx(p, tmp_path / "nginx", proxied) as proxy:
        code, verdict = bypass_audit(tmp_path / "run", proxy.url, inside=a.command())
    assert dodged(verdict) == set() and code == 0, verdict["summary"]
    audited(verdict)
    # every request went through P to S
    assert read_run(tmp_path / "run")["totals"]["offered"] == server.stats()["requests"]


@pytest.mark.slow
def test_the_bypass_audit_straight_at_the_server_dodges_the_limit_with_x_real_ip(
    net: Network, serve_on: ServeOn, tmp_path: Path
) -> None:
    """S is reachable without P: a client that sends X-Real-IP itself chooses its key."""
    server = serve_on(net["s"], *GCRA, *BY_REAL_IP)
    code, verdict = bypass_audit(tmp_path / "run", server.url, inside=net["a"].command())
    assert dodged(verdict) == {"x-real-ip"} and code == 1, verdict["summary"]
    [broken] = [c for c in audited(verdict) if c["passed"] is False]
    assert "X-Real-IP" in broken["message"] and "dodges the limit" in broken["message"], broken
    assert "no-bypass:x-real-ip" in verdict["summary"], verdict["summary"]
