"""A cluster behind a balancer: reference servers started with one ``--cluster-secret`` agree on
every id and accept each other's tokens, as Mattermost's nodes do through their database, while
each keeps its own rate-limit store, as Mattermost's nodes keep theirs in memory.  Behind nginx's
round-robin a client meets one bucket per node and twice the rate; with ``ip_hash``, one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mmload.server.ids import is_id
from mmload.server.world import World
from tests.support.nginx import NGINX, Nginx, proxy_http
from tests.support.runs import REPO, Done, mmload_run, verdict_of
from tests.support.server_fixture import DEFAULT_PASSWORD, ServeFactory, Server

ACCOUNTS = 4
PER_SEC, BURST = 10, 20
ME = "/api/v4/users/me"
needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason=f"{NGINX} is not installed")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# the data and sessions of a node, in process


def test_nodes_with_one_secret_agree_on_every_id() -> None:
    a, b = World(3, "pw", "s3cret"), World(3, "pw", "s3cret")
    assert a.team_json == b.team_json and a.channels_json == b.channels_json
    assert [u.json for u in a.users.values()] == [u.json for u in b.users.values()]
    assert list(a.hooks) == list(b.hooks)
    assert all(is_id(i) for i in [a.team_id, *a.users, *a.channels, *a.hooks])
    other, alone = World(3, "pw", "other"), World(3, "pw")
    assert not set(a.users) & set(other.users) and not set(a.users) & set(alone.users)
    assert set(World(3, "pw").users) != set(alone.users)  # without a secret: random, as before


def test_a_token_from_one_node_is_good_on_another_and_nowhere_else() -> None:
    a, b = World(3, "pw", "s3cret"), World(3, "pw", "s3cret")
    found = a.login("user2", "pw")
    assert found is not None
    user, token = found
    assert is_id(token)  # 26 letters, like Mattermost's
    assert b.user_for(token) == user  # the same user, seeded alike on both nodes
    assert World(3, "pw", "other").user_for(token) is None
    tampered = token[:-1] + ("y" if token[-1] != "y" else "b")
    assert b.user_for(tampered) is None and b.user_for(token[:25]) is None
    a.logout(token)  # ends the session on the node that served the logout only: no shared state
    assert a.user_for(token) is None and b.user_for(token) is not None
    lone = World(3, "pw").login("user1", "pw")
    assert lone is not None and b.user_for(lone[1]) is None


def test_an_empty_secret_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mmload", "serve", "--cluster-secret", ""],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "--cluster-secret" in proc.stderr, proc.stderr


# two real nodes


@pytest.fixture
def nodes(serve: ServeFactory) -> tuple[Server, Server]:
    args = (
        "--cluster-secret",
        "s3cret",
        "--accounts",
        str(ACCOUNTS),
        "--per-sec",
        str(PER_SEC),
        "--max-burst",
        str(BURST),
    )
    return serve(*args), serve(*args)


def test_two_nodes_share_ids_and_sessions_but_not_buckets(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    token = a.login("user3", DEFAULT_PASSWORD)
    on_a, on_b = a.get(ME, headers=bearer(token)), b.get(ME, headers=bearer(token))
    assert on_a.status_code == on_b.status_code == 200, on_b.text
    assert on_a.json() == on_b.json()
    teams = b.get("/api/v4/users/me/teams", headers=bearer(token)).json()
    assert teams == a.get("/api/v4/users/me/teams", headers=bearer(token)).json()
    path = f"/api/v4/users/me/teams/{teams[0]['id']}/channels"
    assert a.get(path, headers=bearer(token)).json() == b.get(path, headers=bearer(token)).json()
    assert a.hooks == {name: url.replace(b.url, a.url) for name, url in b.hooks.items()}
    # each node limits on its own: A's bucket drained by 5 requests, B's still full
    for _ in range(5):
        a.get(ME, headers=bearer(token))
    remaining_a = int(a.get(ME, headers=bearer(token)).headers["X-Ratelimit-Remaining"])
    remaining_b = int(b.get(ME, headers=bearer(token)).headers["X-Ratelimit-Remaining"])
    assert remaining_b - remaining_a >= 5, (remaining_a, remaining_b)
    assert a.stats()["cluster"] is True
    assert a.ready is not None and a.ready.cluster  # its ready line says so
    assert "cluster node" in a.stdout()  # and the lines for people
    assert "s3cret" not in a.stdout() + a.stderr()  # the secret is never shown


# behind a balancer: mmload's verdict


def run_through_balancer(tmp: Path, nodes: tuple[Server, Server], sticky: bool) -> Done:
    """80 requests a second (8x a node's rate) for 8 s, documented as one node limits."""
    backends = [node.url for node in nodes]
    with Nginx.start(tmp / "nginx", lambda port: proxy_http(port, backends, sticky=sticky)) as lb:
        return mmload_run(
            tmp / "runs",
            "--host",
            lb.url,
            "--accounts",
            str(ACCOUNTS),
            "--scenario",
            "steady",
            "--rate-factor",
            "8",
            "-u",
            "4",
            "-t",
            "8s",
            "--documented-limit",
            f"{PER_SEC}/s",
            "--documented-burst",
            str(BURST),
            timeout=60,
        )


def checks_of(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in verdict["checks"]}


@needs_nginx
@pytest.mark.slow
def test_round_robin_gives_a_bucket_per_node_and_twice_the_rate(
    tmp_path: Path, nodes: tuple[Server, Server]
) -> None:
    done = run_through_balancer(tmp_path, nodes, sticky=False)
    assert done.code == 1, done.err
    verdict = verdict_of(done)
    m = verdict["measured"]
    assert m["buckets_per_key"] == 2 and m["scope"] == "per-address", m
    assert abs(m["rate_per_s"] - 2 * PER_SEC) <= 0.1 * 2 * PER_SEC, m
    checks = checks_of(verdict)
    assert checks["rate-matches-documented"]["passed"] is False
    assert checks["one-bucket-per-key"]["passed"] is False
    rate = checks["rate-matches-documented"]
    for text in (
        verdict["summary"],
        f"{rate['message']} {rate.get('diagnosis', '')}",
        checks["one-bucket-per-key"]["message"],
    ):
        assert "per-node limiting" in text and "2x" in text, text
    served = [node.stats()["statuses"].get("200", 0) for node in nodes]
    assert min(served) >= 0.4 * sum(served), served  # both nodes answered


@needs_nginx
@pytest.mark.slow
def test_sticky_balancing_gives_one_bucket_and_a_node_s_rate(
    tmp_path: Path, nodes: tuple[Server, Server]
) -> None:
    done = run_through_balancer(tmp_path, nodes, sticky=True)
    verdict = verdict_of(done)
    assert done.code == 0, verdict["summary"]
    m = verdict["measured"]
    assert m["buckets_per_key"] == 1 and m["scope"] == "per-address", m
    assert abs(m["rate_per_s"] - PER_SEC) <= 0.05 * PER_SEC, m
    assert abs(m["burst"] - BURST) <= 1, m
    assert checks_of(verdict)["one-bucket-per-key"]["passed"] is True
    assert "per-node" not in verdict["summary"]
    served = sorted(node.stats()["requests"] for node in nodes)
    assert served[0] == 0, served  # every client is 127.0.0.1: one node took them all
