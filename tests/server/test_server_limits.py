"""The reference server's rate limiter, measured from outside like a client sees it.

Bursts are pipelined on one connection (``rawhttp.burst``), so the server decides them within a
few milliseconds.  With 1 request/s and a bucket of 20, refill during a burst is nil; wherever
time could still matter, the tolerance is computed from the burst's measured duration:
``refill(elapsed)`` more requests at most.  Nothing asserts on how long anything took.
"""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

import gevent
import http_sfv
import pytest
import requests

from tests.support import rawhttp
from tests.support.rawhttp import Exchange, RawResponse
from tests.support.server_checks import RATE_LIMIT_HEADERS, assert_stamped, assert_stats_match
from tests.support.server_fixture import ServeFactory

PER_SEC = 1
BURST = 19
LIMIT = BURST + 1  # X-Ratelimit-Limit: what a fresh bucket admits at once
GCRA = ("--per-sec", str(PER_SEC), "--max-burst", str(BURST))
OVER = LIMIT + 10  # a burst that must run into 429s
LIMITED_BODY = b"limit exceeded\n"
IETF_HEADERS = ("ratelimit-policy", "ratelimit")


def refill(elapsed_s: float, per_sec: float = PER_SEC) -> int:
    """Requests a limiter may add back during ``elapsed_s``: GCRA admits at most burst+1+rate*T."""
    return math.floor(elapsed_s * per_sec)


def admitted(answer: Exchange) -> list[RawResponse]:
    return [r for r in answer.responses if r.status != 429]


def refused(answer: Exchange) -> list[RawResponse]:
    return [r for r in answer.responses if r.status == 429]


def assert_gcra_burst(answer: Exchange) -> int:
    """A fresh bucket admits exactly LIMIT, plus what refilled; returns the refill allowance."""
    extra = refill(answer.elapsed_s)
    assert answer.statuses[:LIMIT] == [401] * LIMIT, answer.statuses
    assert LIMIT <= len(admitted(answer)) <= LIMIT + extra, (answer.statuses, answer.elapsed_s)
    assert refused(answer), f"{len(answer.responses)} requests in {answer.elapsed_s:.3f} s, no 429"
    return extra


def assert_refusal(response: RawResponse) -> None:
    assert response.status == 429
    assert response.body == LIMITED_BODY
    assert response.headers["content-type"].startswith("text/plain")
    assert_stamped(response.headers)


# throttled GCRA with Mattermost's headers


@pytest.mark.parametrize("dialect", [(), ("--dialect", "mattermost")], ids=["default", "explicit"])
def test_gcra_counts_down_then_refuses_with_429(
    serve: ServeFactory, dialect: tuple[str, ...]
) -> None:
    server = serve(*GCRA, *dialect)

    answer = rawhttp.burst(server.port, OVER)

    extra = assert_gcra_burst(answer)
    for k, response in enumerate(admitted(answer)[:LIMIT], start=1):
        assert response.header_int("X-Ratelimit-Limit") == LIMIT
        assert LIMIT - k <= response.header_int("X-Ratelimit-Remaining") <= LIMIT - k + extra
        assert k - extra <= response.header_int("X-Ratelimit-Reset") <= k  # delta seconds
        assert "retry-after" not in response.headers
        assert_stamped(response.headers)
    for response in refused(answer):
        assert_refusal(response)
        assert response.header_int("X-Ratelimit-Limit") == LIMIT
        assert response.header_int("X-Ratelimit-Remaining") <= extra
        assert 0 < response.header_int("X-Ratelimit-Reset") <= LIMIT / PER_SEC
        assert response.header_int("Retry-After") == 1  # one emission interval at most
    assert_stats_match(server.stats(), answer.statuses)


def test_default_settings_are_mattermosts(serve: ServeFactory) -> None:
    server = serve()

    response = server.get("/api/v4/users/me")

    assert response.status_code == 401
    limit, remaining, reset = (int(response.headers[h]) for h in RATE_LIMIT_HEADERS)
    assert (limit, remaining, reset) == (101, 100, 1)  # 10/s, MaxBurst 100, a fresh bucket
    settings = server.stats()["settings"]
    assert (settings["per_sec"], settings["max_burst"], settings["memory_store_size"]) == (
        10,
        100,
        10_000,
    )
    assert (settings["vary_by_remote_addr"], settings["vary_by_user"]) == (True, False)


def test_a_request_after_retry_after_is_admitted(serve: ServeFactory) -> None:
    server = serve(*GCRA)
    answer = rawhttp.burst(server.port, OVER)
    assert_gcra_burst(answer)
    retry_after = refused(answer)[-1].header_int("Retry-After")

    time.sleep(retry_after)
    response = server.get("/api/v4/users/me")

    assert response.status_code == 401, "waited Retry-After seconds and was still refused"


def test_stats_are_never_limited_nor_counted(serve: ServeFactory) -> None:
    server = serve(*GCRA)
    drained = rawhttp.burst(server.port, OVER)
    assert_gcra_burst(drained)

    stats = rawhttp.burst(server.port, 5, path="/mmload/stats")

    assert stats.statuses == [200] * 5
    assert not set(stats.responses[0].headers) & {*RATE_LIMIT_HEADERS, "retry-after"}
    assert rawhttp.burst(server.port, 1).statuses == [429], "the stats requests were limited"
    assert_stats_match(server.stats(), [*drained.statuses, 429])


def test_no_rate_limit_sends_no_headers_and_never_429(serve: ServeFactory) -> None:
    server = serve("--no-rate-limit")

    answer = rawhttp.burst(server.port, 50)

    assert answer.statuses == [401] * 50
    for response in answer.responses:
        assert not set(response.headers) & {*RATE_LIMIT_HEADERS, *IETF_HEADERS, "retry-after"}
    stats = server.stats()
    assert_stats_match(stats, answer.statuses)
    assert stats["settings"]["enabled"] is False


# keys: which requests share a bucket


def test_default_key_is_the_remote_address(serve: ServeFactory) -> None:
    server = serve(*GCRA)

    drained = rawhttp.burst(server.port, OVER, source="127.0.0.1")
    again = rawhttp.burst(server.port, 1, source="127.0.0.1")  # a new connection, same address
    other = rawhttp.burst(server.port, 1, source="127.0.0.2")

    assert_gcra_burst(drained)
    assert again.statuses == [429]
    assert other.statuses == [401]
    assert other.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1


def test_without_remote_address_or_user_everyone_shares_one_bucket(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--no-vary-by-remote-addr")

    drained = rawhttp.burst(server.port, OVER, source="127.0.0.1")
    other = rawhttp.burst(server.port, 1, source="127.0.0.2")

    assert_gcra_burst(drained)
    assert other.statuses == [429]


def test_vary_by_user_gives_each_token_a_bucket_and_falls_back_to_the_address(
    serve: ServeFactory,
) -> None:
    server = serve(*GCRA, "--vary-by-user")
    started = time.monotonic()
    first, second = server.login("user1"), server.login("user2")  # two from the address bucket

    drained = rawhttp.burst(server.port, OVER, headers={"Authorization": f"Bearer {first}"})
    other_user = rawhttp.burst(server.port, 1, headers={"Authorization": f"Bearer {second}"})
    no_token = rawhttp.burst(server.port, 1)
    no_token_elsewhere = rawhttp.burst(server.port, 1, source="127.0.0.2")
    extra = refill(time.monotonic() - started)

    assert drained.statuses[:LIMIT] == [200] * LIMIT
    assert 429 in drained.statuses
    assert other_user.statuses == [200]
    assert other_user.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1
    assert no_token.statuses == [401]
    remaining = no_token.responses[0].header_int("X-Ratelimit-Remaining")
    assert LIMIT - 3 <= remaining <= LIMIT - 3 + extra
    assert no_token_elsewhere.statuses == [401]
    assert no_token_elsewhere.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1
    seen = [*drained.statuses, *other_user.statuses, *no_token.statuses]
    assert_stats_match(server.stats(), [200, 200, *seen, *no_token_elsewhere.statuses])


def test_vary_by_header_gives_each_lowercased_value_a_bucket(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--vary-by-header", "X-Tenant")

    drained = rawhttp.burst(server.port, OVER, headers={"X-Tenant": "acme"})
    other = rawhttp.burst(server.port, 1, headers={"X-Tenant": "globex"})
    same_lowercased = rawhttp.burst(server.port, 1, headers={"X-Tenant": "ACME"})

    assert_gcra_burst(drained)
    assert other.statuses == [401]
    assert other.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1
    assert same_lowercased.statuses == [429]


def test_trust_forwarded_keys_on_the_left_most_forwarded_address(serve: ServeFactory) -> None:
    """The misconfiguration a spoofed X-Forwarded-For bypasses: each claimed address a bucket."""
    server = serve(*GCRA, "--trust-forwarded")

    drained = rawhttp.burst(server.port, OVER)
    spoofed = rawhttp.burst(server.port, 1, headers={"X-Forwarded-For": "192.0.2.7, 127.0.0.1"})
    again = rawhttp.burst(server.port, 1, headers={"X-Forwarded-For": "192.0.2.7"})

    assert_gcra_burst(drained)
    assert spoofed.statuses == [401]  # a fresh bucket for 192.0.2.7
    assert spoofed.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1
    assert again.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 2  # the same one
    assert server.ready is not None and "X-Forwarded-For" in server.ready.limits_text


def test_without_trust_forwarded_the_header_changes_nothing(serve: ServeFactory) -> None:
    server = serve(*GCRA)

    drained = rawhttp.burst(server.port, OVER)
    spoofed = rawhttp.burst(server.port, 1, headers={"X-Forwarded-For": "192.0.2.7"})

    assert_gcra_burst(drained)
    assert spoofed.statuses == [429]


def test_per_route_gives_each_spelling_of_a_path_a_bucket(serve: ServeFactory) -> None:
    """The misconfiguration another spelling of a route bypasses."""
    server = serve(*GCRA, "--per-route")

    drained = rawhttp.burst(server.port, OVER)
    slash = rawhttp.burst(server.port, 1, path="/api/v4/users/me/")
    same = rawhttp.burst(server.port, 1)

    assert_gcra_burst(drained)
    assert slash.statuses != [429]  # a fresh bucket (whatever the route answers)
    assert slash.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1
    assert same.statuses == [429]


@pytest.mark.parametrize(("size", "forgotten"), [(1, True), (2, False)])
def test_memory_store_size_forgets_the_least_recent_key(
    serve: ServeFactory, size: int, forgotten: bool
) -> None:
    server = serve(*GCRA, "--vary-by-header", "X-Tenant", "--memory-store-size", str(size))

    drained = rawhttp.burst(server.port, OVER, headers={"X-Tenant": "a"})
    rawhttp.burst(server.port, 1, headers={"X-Tenant": "b"})
    back = rawhttp.burst(server.port, 1, headers={"X-Tenant": "a"})

    assert_gcra_burst(drained)
    if forgotten:  # key a was evicted by b: a full bucket again
        assert back.statuses == [401]
        assert back.responses[0].header_int("X-Ratelimit-Remaining") == LIMIT - 1
    else:
        assert back.statuses == [429]


# the window algorithms of the limits library


@pytest.mark.parametrize("algorithm", ["fixed-window", "moving-window", "sliding-window"])
def test_window_algorithms_refuse_a_burst_over_the_window(
    serve: ServeFactory, algorithm: str
) -> None:
    server = serve(*GCRA, "--algorithm", algorithm)  # a window of 20 s holding 20 requests

    answer = rawhttp.burst(server.port, 2 * LIMIT + 10)

    first = answer.responses[0]
    assert first.status == 401
    assert (first.header_int("X-Ratelimit-Limit"), first.header_int("X-Ratelimit-Remaining")) == (
        LIMIT,
        LIMIT - 1,
    )
    assert refused(answer), answer.statuses
    assert len(admitted(answer)) <= 2 * LIMIT  # even across a window boundary
    for response in refused(answer):
        assert_refusal(response)
        assert response.header_int("X-Ratelimit-Remaining") == 0
        assert 0 <= response.header_int("Retry-After") <= 2 * LIMIT / PER_SEC
    assert_stats_match(server.stats(), answer.statuses)


def test_fixed_window_without_burst_is_the_2015_limiter(serve: ServeFactory) -> None:
    server = serve("--algorithm", "fixed-window", "--max-burst", "0", "--per-sec", "5")

    answer = rawhttp.burst(server.port, 15)

    first = answer.responses[0]
    assert (first.header_int("X-Ratelimit-Limit"), first.header_int("X-Ratelimit-Remaining")) == (
        5,
        4,
    )
    assert 0 <= first.header_int("X-Ratelimit-Reset") <= 1  # a one-second window
    assert refused(answer), answer.statuses
    assert len(admitted(answer)) <= 2 * 5
    assert all(r.header_int("X-Ratelimit-Limit") == 5 for r in answer.responses)


# header dialects


def test_epoch_dialect_sends_reset_as_a_unix_time(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--dialect", "epoch")

    answer = rawhttp.burst(server.port, OVER)
    now = time.time()

    extra = assert_gcra_burst(answer)
    for k, response in enumerate(admitted(answer)[:LIMIT], start=1):
        date = parsedate_to_datetime(response.headers["date"]).timestamp()
        reset = response.header_int("X-Ratelimit-Reset")
        assert reset > 1_000_000_000
        assert date + k - extra - 2 <= reset <= date + k + 2, (k, reset, date)
        assert abs(reset - now) <= LIMIT / PER_SEC + 5
        assert response.header_int("X-Ratelimit-Limit") == LIMIT
    for response in refused(answer):
        assert response.header_int("Retry-After") == 1  # still delta seconds


def test_ietf_dialect_sends_structured_ratelimit_fields(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--dialect", "ietf")

    answer = rawhttp.burst(server.port, OVER)

    extra = assert_gcra_burst(answer)
    for k, response in enumerate(answer.responses, start=1):
        assert not set(response.headers) & set(RATE_LIMIT_HEADERS)
        policies, limits = http_sfv.List(), http_sfv.List()
        policies.parse(response.headers["ratelimit-policy"].encode())
        limits.parse(response.headers["ratelimit"].encode())
        [policy], [limit] = policies, limits
        assert policy.value == limit.value  # the RateLimit field names its policy
        assert (policy.params["q"], policy.params["w"]) == (LIMIT, LIMIT // PER_SEC)
        if response.status == 429:
            assert limit.params["r"] <= extra
            assert response.header_int("Retry-After") == 1
        else:
            assert LIMIT - k <= limit.params["r"] <= LIMIT - k + extra
            assert k - extra <= limit.params["t"] <= k
            assert "retry-after" not in response.headers


def test_none_dialect_sends_no_rate_limit_headers_but_still_refuses(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--dialect", "none")

    answer = rawhttp.burst(server.port, OVER)

    assert_gcra_burst(answer)
    for response in answer.responses:
        assert not set(response.headers) & {*RATE_LIMIT_HEADERS, *IETF_HEADERS}
    for response in refused(answer):
        assert_refusal(response)
        assert response.header_int("Retry-After") == 1


# faults: documented misbehaviour


def test_fault_no_enforcement_counts_down_but_never_refuses(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--fault", "no-enforcement")

    answer = rawhttp.burst(server.port, OVER)

    assert answer.statuses == [401] * OVER
    extra = refill(answer.elapsed_s)
    for k, response in enumerate(answer.responses, start=1):
        remaining = response.header_int("X-Ratelimit-Remaining")
        assert max(0, LIMIT - k) <= remaining <= max(0, LIMIT - k + extra), (k, remaining)
    assert not any("retry-after" in r.headers for r in answer.responses)
    assert_stats_match(server.stats(), answer.statuses)


def _accepted_while_hammering(url: str, seconds: float) -> tuple[int, int, float, int]:
    """Sequential requests for ``seconds``: (admitted, sent, elapsed, advertised limit)."""
    admitted_count = sent = 0
    limit = 0
    with requests.Session() as session:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            response = session.get(url + "/api/v4/users/me", timeout=10)
            sent += 1
            admitted_count += response.status_code != 429
            limit = int(response.headers["X-Ratelimit-Limit"])
        elapsed = time.monotonic() - started
    return admitted_count, sent, elapsed, limit


def test_fault_lax_admits_about_twice_the_advertised_rate(serve: ServeFactory) -> None:
    # a bucket of 10 lets the limiter make up for short stalls of this busy machine
    per_sec, burst, seconds = 10, 9, 2.0
    args = ("--per-sec", str(per_sec), "--max-burst", str(burst))
    honest, lax = serve(*args), serve(*args, "--fault", "lax")

    # both hammered at once, each by a greenlet of its own (the session is gevent's)
    servers = {"honest": honest, "lax": lax}
    hammers = {
        name: gevent.spawn(_accepted_while_hammering, server.url, seconds)
        for name, server in servers.items()
    }
    gevent.joinall(list(hammers.values()), raise_error=True)
    rates = {}
    for name, server in servers.items():
        admitted_count, sent, elapsed, limit = hammers[name].value
        assert limit == burst + 1, name  # both advertise the same bucket
        assert sent >= 3 * per_sec * elapsed, f"client too slow to measure: {sent} sent"
        assert server.stats()["accepted"] == admitted_count
        # beyond the first bucketful, GCRA admits at most per_sec * elapsed (+1 for rounding)
        rates[name] = (admitted_count - (burst + 1) - 1) / elapsed

    assert rates["honest"] <= per_sec, rates
    assert 1.5 * per_sec <= rates["lax"] <= 2 * per_sec, rates


def test_fault_stuck_remaining_never_counts_down(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--fault", "stuck-remaining")

    answer = rawhttp.burst(server.port, OVER)

    assert_gcra_burst(answer)
    assert {r.header_int("X-Ratelimit-Remaining") for r in answer.responses} == {LIMIT - 1}


def test_fault_no_retry_after_refuses_without_retry_after(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--fault", "no-retry-after")

    answer = rawhttp.burst(server.port, OVER)

    assert_gcra_burst(answer)
    for response in refused(answer):
        assert_refusal(response)
        assert "retry-after" not in response.headers
        assert response.header_int("X-Ratelimit-Remaining") == 0


def test_fault_bare_429_refuses_without_any_rate_limit_header(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--fault", "bare-429")

    answer = rawhttp.burst(server.port, OVER)

    assert_gcra_burst(answer)
    for response in admitted(answer):
        assert set(RATE_LIMIT_HEADERS) <= set(response.headers)
    for response in refused(answer):
        assert_refusal(response)
        assert not set(response.headers) & {*RATE_LIMIT_HEADERS, "retry-after"}


def test_fault_wrong_reset_claims_a_tenth_of_the_refill_time(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--fault", "wrong-reset")

    answer = rawhttp.burst(server.port, OVER)

    extra = assert_gcra_burst(answer)
    last = admitted(answer)[LIMIT - 1]
    real_s = LIMIT / PER_SEC - answer.elapsed_s  # the bucket is empty: this long until full
    assert 1 <= last.header_int("X-Ratelimit-Reset") <= math.ceil(LIMIT / PER_SEC / 10)
    assert last.header_int("X-Ratelimit-Reset") * 5 < real_s
    for response in refused(answer):
        assert response.header_int("Retry-After") == 1  # Retry-After stays true
        assert response.header_int("X-Ratelimit-Remaining") <= extra


def test_fault_shared_bucket_ignores_vary_by_user(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--vary-by-user", "--fault", "shared-bucket")

    drained = rawhttp.burst(server.port, OVER, headers={"Authorization": "Bearer " + "a" * 26})
    other_token = rawhttp.burst(server.port, 1, headers={"Authorization": "Bearer " + "b" * 26})
    other_address = rawhttp.burst(server.port, 1, source="127.0.0.2")

    assert_gcra_burst(drained)
    assert other_token.statuses == [429]
    assert other_address.statuses == [429]


def test_faults_combine(serve: ServeFactory) -> None:
    server = serve(*GCRA, "--fault", "stuck-remaining", "--fault", "no-retry-after")

    answer = rawhttp.burst(server.port, OVER)

    assert_gcra_burst(answer)
    assert {r.header_int("X-Ratelimit-Remaining") for r in answer.responses} == {LIMIT - 1}
    assert not any("retry-after" in r.headers for r in refused(answer))
    assert server.stats()["settings"]["faults"] == ["no-retry-after", "stuck-remaining"]
