"""The window algorithms remember at most ``memory_store_size`` keys, like GCRA's LRU store.

``limits`` reads ``time.time()`` itself, so a fake clock stands in for that module attribute.
"""

from __future__ import annotations

import re

import limits.storage.memory
import limits.strategies
import pytest
from limits.storage import MemoryStorage
from limits.strategies import RateLimiter as Strategy

from mmload.limiter.rate import Rate
from mmload.limiter.window_store import LRUMemoryStorage
from mmload.limiter.windows import STRATEGIES, WindowLimiter

ALGORITHMS = sorted(STRATEGIES)
RATE = Rate(1, 9)  # a window of 10 s holding 10 requests
LIMIT = 10
SIZE = 100


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_003.0  # not on a window boundary

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(limits.storage.memory, "time", fake)
    monkeypatch.setattr(limits.strategies, "time", fake)
    return fake


def make(algorithm: str, clock: FakeClock, size: int = SIZE) -> WindowLimiter:
    return WindowLimiter(RATE, algorithm, memory_store_size=size, clock=clock.time)


def held(limiter: WindowLimiter) -> dict[str, set[str]]:
    """Rate-limit key -> every storage key of it, over all the dicts ``MemoryStorage`` keeps."""
    storage = limiter.storage
    found: dict[str, set[str]] = {}
    for table in (storage.storage, storage.expirations, storage.events, storage.locks):
        for storage_key in table:
            match = re.match(r"LIMITER/(.+?)/\d+/\d+/second(/\d+)?$", storage_key)
            assert match, storage_key
            found.setdefault(match.group(1), set()).add(storage_key)
    return found


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_many_keys_leave_at_most_the_store_size(algorithm: str, clock: FakeClock) -> None:
    limiter = make(algorithm, clock)
    keys = [f"k{i}" for i in range(5_000)]
    for key in keys:
        limiter.hit(key)
        clock.now += 0.001

    kept = held(limiter)
    assert set(kept) == set(keys[-SIZE:])  # the most recent ones
    storage = limiter.storage
    assert len(storage.storage) == len(storage.expirations) <= SIZE * 2  # sliding: 2 windows
    assert len(storage.events) <= SIZE and len(storage.locks) <= SIZE * 2


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_evicted_key_gets_a_fresh_window(algorithm: str, clock: FakeClock) -> None:
    limiter = make(algorithm, clock, size=3)
    drained = [limiter.hit("a") for _ in range(LIMIT + 1)]
    assert drained[-1].limited
    for _ in range(3):
        limiter.hit("b")
    limiter.hit("c")
    limiter.hit("b")  # b is the most recent, so d evicts a
    limiter.hit("d")

    back = limiter.hit("a")
    assert not back.limited and back.remaining == LIMIT - 1
    kept = limiter.hit("b")
    assert kept.remaining == LIMIT - 5


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_refused_hit_counts_as_a_use(algorithm: str, clock: FakeClock) -> None:
    limiter = make(algorithm, clock, size=2)
    for _ in range(LIMIT):
        limiter.hit("a")
    limiter.hit("b")
    assert limiter.hit("a").limited  # a is now more recent than b
    limiter.hit("c")  # so c evicts b
    assert limiter.hit("a").limited
    assert set(held(limiter)) == {"a", "c"}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fewer_keys_than_the_size_decide_as_the_unbounded_storage(
    algorithm: str, clock: FakeClock
) -> None:
    bounded = make(algorithm, clock)
    unbounded = make(algorithm, clock)
    plain = MemoryStorage()
    plain.timer.cancel()
    unbounded.storage = plain  # type: ignore[assignment]
    unbounded.strategy = STRATEGIES[algorithm](plain)
    for step in range(600):  # 60 s of traffic over 7 keys, crossing several windows
        key = f"k{step % 7}"
        assert bounded.hit(key) == unbounded.hit(key), (step, key)
        clock.now += 0.1 + (step % 3) * 0.05


def test_sliding_window_drops_the_counters_of_ended_windows(clock: FakeClock) -> None:
    limiter = make("sliding-window", clock, size=1)
    for _ in range(50):  # one hit in each of 50 windows
        limiter.hit("a")
        clock.now += 10
    assert len(held(limiter)["a"]) <= 3  # the current window and the two before it at most


def test_moving_window_keeps_no_more_events_than_the_limit(clock: FakeClock) -> None:
    limiter = make("moving-window", clock, size=1)
    for _ in range(20):
        for _ in range(LIMIT * 3):
            limiter.hit("a")
        clock.now += 4
    assert all(len(events) <= LIMIT for events in limiter.storage.events.values())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_background_sweep_thread(algorithm: str) -> None:
    limiter = WindowLimiter(RATE, algorithm, memory_store_size=SIZE)
    timer = limiter.storage.timer
    for i in range(50):
        limiter.hit(f"k{i}")
    timer.join(timeout=5)
    assert limiter.storage.timer is timer and not timer.is_alive()


def test_the_store_needs_room_for_one_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        LRUMemoryStorage(0)


def test_reset_forgets_every_key(clock: FakeClock) -> None:
    limiter = make("fixed-window", clock, size=5)
    limiter.hit("a")
    limiter.storage.reset()
    assert held(limiter) == {}
    assert limiter.hit("a").remaining == LIMIT - 1


def test_strategies_accept_the_bounded_storage() -> None:
    storage = LRUMemoryStorage(1)
    assert all(isinstance(cls(storage), Strategy) for cls in STRATEGIES.values())
