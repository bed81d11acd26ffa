"""The verdict on what sits in front of a server: a reverse proxy that limits without saying so
(nginx's ``limit_req``: no rate-limit headers, no Retry-After) and a balancer over cluster nodes
that each keep their own buckets.  Run folders synthesized from the reference server's limiter on
a virtual clock (``support.synth``); ``test_nginx.py`` and ``test_cluster.py`` do the same live."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmload.limiter.rate import Documented, Rate
from mmload.results.record import Record
from mmload.server.limiting import LimitSettings, RateLimiter
from mmload.verdict import Verdict, verify
from tests.support.folders import synthesized
from tests.support.synth import ME, START, Plan, write_folder

NGINX_LIKE = Plan(
    dialect="none", faults=("no-retry-after",), burst=20, documented=Documented(10, 20)
)


def judge(tmp_path: Path, plan: Plan) -> Verdict:
    return verify(synthesized(plan, tmp_path / "run"))


def by_id(v: Verdict) -> dict[str, tuple[bool | None, str, str]]:
    return {c.id: (c.passed, c.severity, c.message) for c in v.checks}


def test_a_limiter_that_sends_no_header_nor_retry_after_passes_with_a_warning(
    tmp_path: Path,
) -> None:
    """A limiter that sends no rate-limit header and no Retry-After (nginx's ``limit_req``)
    passes, its rate and burst measured: the missing Retry-After is a warning, not an error,
    as RFC 6585 makes Retry-After optional."""
    v = judge(tmp_path, NGINX_LIKE)
    assert v.passed, v.summary
    assert abs((v.measured.rate_per_s or 0.0) - 10) <= 0.5 and v.measured.burst == 20, v.measured
    passed, severity, message = by_id(v)["retry-after-honest"]
    assert (passed, severity) == (False, "warning") and "RFC 6585" in message
    assert by_id(v)["one-bucket-per-key"][0] is None  # no headers: buckets cannot be told apart


def probe_through_nginx(step: float) -> list[Record]:
    """The probe's requests through a bucket of 21 at 10/s that sends no header (nginx's
    ``rate=10r/s burst=20 nodelay``): 26 at once, a second's pause, then 1.1, 1.25 and 1.5
    times 10/s for ``step`` seconds each."""
    now = [START]
    limiter = RateLimiter(
        LimitSettings(rate=Rate(10, 20), dialect="none"),
        clock=lambda: round(now[0] * 1e9),
        wall=lambda: now[0],
    )
    times = [START + k * 1e-4 for k in range(26)]
    t = START + 1.0
    for factor in (1.1, 1.25, 1.5):
        end = t + step
        while t < end:
            times.append(t)
            t += 1 / (10 * factor)
    rows = []
    for t in times:
        now[0] = t
        limited, _ = limiter.check("127.0.0.1", None, None)
        rows.append(
            Record(
                t,
                1.0,
                ME,
                429 if limited else 200,
                "addr:1",
                "token:1",
                "addr:1",
                None,
                None,
                None,
                None,
                None,
                "",
                "",
                None,
                "",
            )
        )
    return rows


@pytest.mark.parametrize("step", [1.5, 4.0])
def test_the_probe_s_pause_does_not_bias_the_rate(tmp_path: Path, step: float) -> None:
    """The tokens that piled up in the probe's pause make the opening of the acceptance after it
    unsure by a second: the interval leaves that resumption out rather than widen.  Steps of
    1.5 s saturate too briefly to measure a rate: inconclusive, never a failure; 4 s steps
    measure it within 2% and pass."""
    v = verify(
        write_folder(
            tmp_path / "run", Plan(documented=Documented(10, 20)), records=probe_through_nginx(step)
        )
    )
    m = v.measured
    if step < 4:
        assert m.rate_per_s is None and v.outcome == "inconclusive", v.summary
        return
    assert m.rate_low is not None and m.rate_high is not None, m
    assert m.rate_low <= 10 <= m.rate_high and m.rate_high - m.rate_low <= 0.4, m
    assert v.passed and m.burst == 20, v.summary


def test_retry_after_missing_beside_rate_limit_headers_is_still_an_error(tmp_path: Path) -> None:
    v = judge(tmp_path, Plan(faults=("no-retry-after",)))
    assert not v.passed and by_id(v)["retry-after-honest"][:2] == (False, "error")


def test_a_round_robin_cluster_is_explained_as_per_node_limiting(tmp_path: Path) -> None:
    """Two nodes behind a round-robin balancer, each with a bucket of its own: the scope is found
    (per address, two buckets per key), and the rate check, the one-bucket-per-key warning and
    the summary explain the rate of twice the documented as per-node limiting ("2x")."""
    v = judge(tmp_path, Plan(servers=2))
    m = v.measured
    assert m.buckets_per_key == 2 and m.scope == "per-address", m
    assert abs((m.rate_per_s or 0.0) - 20) <= 1.0, m
    checks = by_id(v)
    assert checks["rate-matches-documented"][0] is False
    assert checks["one-bucket-per-key"][:2] == (False, "warning")
    diagnosed = {c.id: c.diagnosis for c in v.checks}
    for text in (diagnosed["rate-matches-documented"], checks["one-bucket-per-key"][2], v.summary):
        assert "per-node limiting" in text and "2x" in text, text
    assert checks["reset-honest"][0] is None  # each node's Reset speaks for its own bucket
    assert "each of the 2 buckets" in checks["advertised-limit"][2]  # 101: one node's capacity
    assert m.algorithm == "unknown"  # no model of one bucket replays two in turn
    assert checks["scope-matches"][0] is True


def test_per_user_buckets_behind_a_cluster_are_measured_per_user(tmp_path: Path) -> None:
    """Per-user buckets on two nodes: the scope is found per user, two buckets per key, and the
    rate is an interval that holds twice the documented rate (a user's two buckets) and lies
    clear above the documented one, not the rate of every bucket together."""
    v = judge(tmp_path, Plan(servers=2, vary_by="user"))
    m = v.measured
    assert (m.scope, m.buckets_per_key) == ("per-user", 2), m
    # a resumption says where one node's bucket stands, not the other's: an honest, wide
    # interval around twice the documented rate, and nowhere near it
    assert m.rate_low is not None and m.rate_high is not None, m
    assert m.rate_low <= 20 <= m.rate_high and m.rate_low > 10.5, m
    assert v.check("rate-matches-documented").passed is False


def test_three_nodes_and_two_addresses(tmp_path: Path) -> None:
    v = judge(tmp_path, Plan(servers=3, sources=2))
    m = v.measured
    assert (m.scope, m.buckets_per_key) == ("per-address", 3), m
    assert abs((m.rate_per_s or 0.0) - 30) <= 1.5, m


def test_one_node_or_sticky_balancing_is_one_bucket(tmp_path: Path) -> None:
    v = judge(tmp_path, Plan())
    assert v.measured.buckets_per_key == 1
    assert by_id(v)["one-bucket-per-key"][0] is True
    assert "per-node" not in v.summary
