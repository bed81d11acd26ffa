"""The scope a verdict infers when several processes send: a request's send time is taken a
moment before it is sent, and another process's later request can reach the server first, so
Remaining does not fall one by one in send order.  The scope, the buckets and the rate are
found all the same."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from mmload.results.record import Record
from mmload.verdict import verify
from tests.support.synth import Plan, simulate, write_folder

STALL = 0.04  # seconds between taking the send time and sending, at worst (measured: 40 ms)


def two_processes(plan: Plan) -> list[Record]:
    """The plan's records as two processes would log them: each odd-numbered user's process
    stalls now and then between taking a request's send time and sending it, so the time it
    records is earlier than when the server decided (and its latency longer)."""
    rng = random.Random(3)
    records = []
    for r in simulate(plan):
        odd = r.user and int(r.user.split(":")[1], 16) % 2
        stall = rng.uniform(0, STALL) if odd and rng.random() < 0.2 else 0.0
        # its latency counts from the time taken, so the stall too: answered stays right
        records.append(r._replace(sent=r.sent - stall, latency_ms=r.latency_ms + stall * 1000))
    return records


@pytest.mark.parametrize(
    ("plan", "scope", "buckets", "per_key"),
    [
        (Plan(vary_by="address", sources=4), "per-address", 4, 1),
        # per user: 8 users, and their logins in their address's bucket
        (Plan(vary_by="user"), "per-user", 9, 1),
        (Plan(vary_by="none", sources=4), "shared", 1, 1),
        # a round-robin balancer over two nodes, each with its own store
        (Plan(vary_by="address", servers=2), "per-address", 1, 2),
    ],
)
def test_the_scope_is_found_though_processes_reorder_requests(
    tmp_path: Path, plan: Plan, scope: str, buckets: int, per_key: int
) -> None:
    plan = replace(plan, users=8, seconds=8, per_user=50)
    v = verify(write_folder(tmp_path / "run", plan, two_processes(plan)))
    m = v.measured
    assert (m.scope, m.buckets, m.buckets_per_key) == (scope, buckets, per_key), m
    assert m.rate_per_s is not None and abs(m.rate_per_s - 10 * per_key) <= 0.5 * per_key, m
