"""GCRA pinned to throttled v2's own numbers, with an injected clock (no sleeps)."""

from __future__ import annotations

import pytest

from mmload.limiter.decision import NS, ceil_seconds
from mmload.limiter.gcra import GCRA, emission_interval_ns
from mmload.limiter.rate import Rate
from mmload.limiter.store import LRUStore

MS = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.ns = 1_700_000_000 * NS

    def __call__(self) -> int:
        return self.ns


def limiter(per_sec: int, burst: int, clock: Clock, keys: int = 100) -> GCRA:
    return GCRA(Rate(per_sec, burst), LRUStore(keys), clock)


# throttled rate_test.go TestRateLimit: PerSec(1), MaxBurst 4.
# (offset ms, quantity, remaining, reset ms, retry-after ms or -1, limited)
THROTTLED_CASES = [
    (0, 6, 5, 0, -1, True),  # never larger than the maximum
    (0, 1, 4, 1000, -1, False),
    (0, 1, 3, 2000, -1, False),
    (0, 1, 2, 3000, -1, False),
    (0, 1, 1, 4000, -1, False),
    (0, 1, 0, 5000, -1, False),
    (0, 1, 0, 5000, 1000, True),
    (3000, 1, 2, 3000, -1, False),
    (3100, 1, 1, 3900, -1, False),
    (4000, 1, 1, 4000, -1, False),
    (8000, 1, 4, 1000, -1, False),
    (9500, 1, 4, 1000, -1, False),
    (9500, 0, 4, 1000, -1, False),  # quantity 0 only peeks
    (9500, 2, 2, 3000, -1, False),  # a larger quantity uses more
    (9500, 5, 2, 3000, 3000, True),  # large requests cannot exceed the limit
    (15000, 6, 5, 0, -1, True),
]


def test_reproduces_throttled_rate_test_table() -> None:
    clock = Clock()
    start = clock.ns
    gcra = limiter(1, 4, clock)
    for i, (at, quantity, remaining, reset, retry, limited) in enumerate(THROTTLED_CASES):
        clock.ns = start + at * MS
        d = gcra.hit("foo", quantity)
        retry_ns = retry * MS if retry >= 0 else -1
        got = (d.limited, d.limit, d.remaining, d.reset_after_ns, d.retry_after_ns)
        assert got == (limited, 5, remaining, reset * MS, retry_ns), f"case {i}"


def test_mattermost_worked_example() -> None:
    """10/s, burst 100, all at one instant: REFERENCE.md section 2."""
    gcra = limiter(10, 100, Clock())
    decisions = [gcra.hit("ip") for _ in range(102)]
    first, last_ok, refused = decisions[0], decisions[100], decisions[101]
    assert (first.limit, first.remaining, ceil_seconds(first.reset_after_ns)) == (101, 100, 1)
    assert not last_ok.limited
    assert (last_ok.remaining, ceil_seconds(last_ok.reset_after_ns)) == (0, 11)
    assert refused.limited
    assert (refused.remaining, ceil_seconds(refused.retry_after_ns)) == (0, 1)
    assert [d.remaining for d in decisions[:101]] == list(range(100, -1, -1))


def test_integer_nanoseconds_keep_remaining_exact() -> None:
    """1/3 s is not a float-exact interval; Go's integer Duration still counts 100, 99, ..."""
    assert emission_interval_ns(3) == 333_333_333
    gcra = limiter(3, 100, Clock())
    assert [gcra.hit("k").remaining for _ in range(4)] == [100, 99, 98, 97]


def test_refills_one_request_per_emission_interval() -> None:
    clock = Clock()
    gcra = limiter(10, 100, clock)
    while not gcra.hit("k").limited:
        pass
    clock.ns += 100 * MS - 1
    assert gcra.hit("k").limited
    clock.ns += 1
    assert not gcra.hit("k").limited
    assert gcra.hit("k").limited


def test_refusal_does_not_move_the_bucket() -> None:
    clock = Clock()
    gcra = limiter(1, 0, clock)
    assert not gcra.hit("k").limited
    for _ in range(50):
        refused = gcra.hit("k")
        assert refused.limited
        assert refused.retry_after_ns == NS
    clock.ns += NS
    assert not gcra.hit("k").limited


@pytest.mark.parametrize(("per_sec", "burst"), [(10, 100), (5, 0), (100, 20), (7, 3)])
def test_saturation_accepts_at_most_capacity_plus_rate_times_t(per_sec: int, burst: int) -> None:
    """Offered every millisecond for 20 s: accepted in any window T <= MaxBurst+1+PerSec*T."""
    clock = Clock()
    gcra = limiter(per_sec, burst, clock)
    accepted_at = []
    for step in range(20_000):
        clock.ns += MS
        if not gcra.hit("k").limited:
            accepted_at.append(step)
    rate = Rate(per_sec, burst)
    assert len(accepted_at) <= rate.max_accepted(20.0)
    assert len(accepted_at) >= rate.max_accepted(20.0) - 2  # saturated: the bound is reached
    window = 3000  # ms
    j = 0
    for i, start in enumerate(accepted_at):
        while j < len(accepted_at) and accepted_at[j] < start + window:
            j += 1
        assert j - i <= rate.max_accepted(window / 1000)


def test_keys_have_separate_buckets_and_lru_eviction_forgets() -> None:
    clock = Clock()
    gcra = limiter(1, 1, clock, keys=2)
    assert [gcra.hit("a").limited for _ in range(3)] == [False, False, True]
    assert not gcra.hit("b").limited  # b has its own bucket
    gcra.hit("c")  # the store holds two keys: a, least recently used, is forgotten
    assert "a" not in gcra.store
    assert gcra.hit("a").remaining == 1  # a starts again with a full bucket


def test_every_algorithm_is_built_by_name_and_replayed_by_the_verdict() -> None:
    from mmload.limiter.algorithms import ALGORITHMS, Limiter, algorithm
    from mmload.limiter.rate import Rate
    from mmload.verdict.replay import MODELS

    assert set(MODELS) == set(ALGORITHMS)
    for name in ALGORITHMS:
        kind = algorithm(name)
        limiter: Limiter = kind.build(Rate(10, 20), 100, lambda: 0, lambda: 1_000_000.0)
        first = limiter.hit("k")
        assert not first.limited and first.limit == limiter.limit == kind.limit(Rate(10, 20))
    with pytest.raises(ValueError, match="choose from"):
        algorithm("leaky-bucket")
