"""Dialects and faults as the reference server renders them (injected clocks, no sleeps)."""

from __future__ import annotations

from dataclasses import replace

import http_sfv
import pytest

from mmload.limiter.decision import NS
from mmload.limiter.faults import FAULTS
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.server.limiting import LimitSettings, RateLimiter

WALL = 1_800_000_000.0


def make(**kw: object) -> tuple[RateLimiter, list[int]]:
    now = [5 * NS]
    settings = LimitSettings(rate=Rate(1, 4), **kw)  # type: ignore[arg-type]
    return RateLimiter(settings, clock=lambda: now[0], wall=lambda: WALL), now


def drain(limiter: RateLimiter, n: int = 6, token: str = "t") -> list[tuple[bool, dict[str, str]]]:
    return [(lim, dict(h)) for lim, h in (limiter.check("ip", token, None) for _ in range(n))]


def test_mattermost_dialect() -> None:
    results = drain(make()[0])
    assert [lim for lim, _ in results] == [False] * 5 + [True]
    first, refused = results[0][1], results[5][1]
    assert first == {
        "X-Ratelimit-Limit": "5",
        "X-Ratelimit-Remaining": "4",
        "X-Ratelimit-Reset": "1",
    }
    assert refused["Retry-After"] == "1" and refused["X-Ratelimit-Remaining"] == "0"


def test_epoch_dialect_adds_the_wall_clock() -> None:
    results = drain(make(dialect="epoch")[0])
    assert results[4][1]["X-Ratelimit-Reset"] == str(int(WALL) + 5)


def test_ietf_dialect_is_structured_fields() -> None:
    results = drain(make(dialect="ietf")[0])
    headers = results[1][1]
    policy, state = http_sfv.List(), http_sfv.List()
    policy.parse(headers["RateLimit-Policy"].encode())
    state.parse(headers["RateLimit"].encode())
    assert policy[0].value == state[0].value == "default"
    assert (policy[0].params["q"], policy[0].params["w"]) == (5, 5)
    assert (state[0].params["r"], state[0].params["t"]) == (3, 2)
    assert "Retry-After" in results[5][1]


def test_none_dialect_sends_only_retry_after() -> None:
    results = drain(make(dialect="none")[0])
    assert results[0][1] == {}
    assert results[5] == (True, {"Retry-After": "1"})


def test_every_fault_is_documented() -> None:
    assert set(FAULTS) >= {
        "no-enforcement",
        "lax",
        "stuck-remaining",
        "no-retry-after",
        "bare-429",
        "wrong-reset",
        "shared-bucket",
    }


def test_no_enforcement_advertises_but_admits() -> None:
    limiter, _ = make(faults=frozenset({"no-enforcement"}))
    results = drain(limiter, 10)
    assert not any(lim for lim, _ in results)
    assert results[9][1]["X-Ratelimit-Remaining"] == "0"
    assert "Retry-After" not in results[9][1]


def test_lax_enforces_twice_the_advertised_rate() -> None:
    honest, now_h = make()
    lax, now_l = make(faults=frozenset({"lax"}))
    counts = []
    for limiter, now in ((honest, now_h), (lax, now_l)):
        accepted = 0
        for _ in range(10_000):  # 10 s offered every millisecond
            now[0] += NS // 1000
            accepted += not limiter.check("ip", None, None)[0]
        counts.append(accepted)
    assert counts[0] == pytest.approx(5 + 10, abs=1)
    assert counts[1] == pytest.approx(5 + 20, abs=1)
    assert drain(lax, 1)[0][1]["X-Ratelimit-Limit"] == "5"


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("stuck-remaining", lambda r: all(h["X-Ratelimit-Remaining"] == "4" for _, h in r)),
        ("no-retry-after", lambda r: r[5][0] and "Retry-After" not in r[5][1]),
        ("bare-429", lambda r: r[5] == (True, {}) and "X-Ratelimit-Limit" in r[4][1]),
        ("wrong-reset", lambda r: r[4][1]["X-Ratelimit-Reset"] == "1"),  # really 5 s
    ],
)
def test_header_faults(fault: str, check: object) -> None:
    results = drain(make(faults=frozenset({fault}))[0])
    assert callable(check) and check(results)


def test_shared_bucket_ignores_vary_by() -> None:
    limiter, _ = make(keying=Keying(vary_by_user=True), faults=frozenset({"shared-bucket"}))
    a = drain(limiter, 3, token="a")
    b = drain(limiter, 3, token="b")
    assert [lim for lim, _ in a + b] == [False] * 5 + [True]
    honest, _ = make(keying=Keying(vary_by_user=True))
    assert not any(lim for lim, _ in drain(honest, 3, "a") + drain(honest, 3, "b"))


def test_window_algorithms_advertise_the_2015_limit() -> None:
    limiter = RateLimiter(LimitSettings(rate=Rate(5, 0), algorithm="fixed-window"))
    results = [limiter.check("ip", None, None) for _ in range(6)]
    assert dict(results[0][1])["X-Ratelimit-Limit"] == "5"
    assert dict(results[0][1])["X-Ratelimit-Remaining"] == "4"


def test_settings_refuse_unknown_names() -> None:
    with pytest.raises(ValueError, match="fault"):
        LimitSettings(faults=frozenset({"nope"}))
    with pytest.raises(ValueError, match="algorithm"):
        LimitSettings(algorithm="token-bucket")


@pytest.mark.parametrize("algorithm", ["fixed-window", "moving-window", "sliding-window"])
def test_window_algorithms_honour_the_memory_store_size(algorithm: str) -> None:
    keying = Keying(vary_by_header="X-Tenant")
    # 5 requests in a window of 101 s: no window boundary falls inside the test
    settings = LimitSettings(rate=Rate(0.05, 5), algorithm=algorithm, keying=keying)
    for size, forgotten in ((1, True), (2, False)):
        limiter = RateLimiter(replace(settings, memory_store_size=size))
        drained = [limiter.check("ip", None, "a")[0] for _ in range(6)]
        limiter.check("ip", None, "b")
        back, headers = limiter.check("ip", None, "a")
        assert drained == [False] * 5 + [True]
        assert back is not forgotten  # with room for one key, b evicted a: a fresh window
        assert dict(headers)["X-Ratelimit-Remaining"] == ("4" if forgotten else "0")
