"""The ``limits`` library's in-memory storage, bounded like the store Mattermost gives throttled.

``MemoryStorage`` keeps every key it ever saw until a background thread sweeps the expired ones,
so a server hit by many distinct keys grows without bound.  :class:`LRUMemoryStorage` holds the
entries of at most ``capacity`` rate-limit keys and forgets the least recently used one first: a
forgotten key starts again with a fresh window, exactly as with GCRA's :class:`LRUStore`.

What each strategy stores for one rate-limit key (its ``item.key_for(...)``, the "owner" below):
fixed window, one counter named by the key; moving window, a list of events named by the key;
sliding window, one counter per window, named ``key/<window number>``.
"""

from __future__ import annotations

from collections import OrderedDict

from limits.storage import MemoryStorage


class LRUMemoryStorage(MemoryStorage):
    """``MemoryStorage`` for at most ``capacity`` rate-limit keys, least recently used forgotten."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the key store needs room for at least one key, not {capacity}")
        super().__init__()
        # The sweep thread reads the dicts without locks while our evictions pop from them on the
        # server's thread; it is not needed: every read checks expiry itself and we bound the size.
        self.timer.cancel()
        self.capacity = capacity
        # owner -> the counter keys it created (a sliding window adds one per window)
        self._owners: OrderedDict[str, set[str]] = OrderedDict()
        self._sliding_owner: str | None = None

    def _MemoryStorage__schedule_expiry(self) -> None:  # overrides MemoryStorage.__schedule_expiry
        """Never restart the sweep thread (see ``__init__``)."""

    def _use(self, owner: str) -> set[str]:
        """Mark a rate-limit key as just used; over capacity, forget the least recent one."""
        counters = self._owners.get(owner)
        if counters is not None:
            self._owners.move_to_end(owner)
            return counters
        counters = self._owners[owner] = set()
        if len(self._owners) > self.capacity:
            self._forget(*self._owners.popitem(last=False))
        return counters

    def _forget(self, owner: str, counters: set[str]) -> None:
        for key in counters:
            self.clear(key)
        self.clear(owner)  # its events (moving window), and its lock

    def _prune(self, counters: set[str]) -> None:
        """Drop the counters of ended windows: nothing reads an old sliding window's key again."""
        for key in list(counters):
            self.get(key)  # the library's expiry check: an expired counter is popped
            if key not in self.expirations:
                counters.discard(key)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        counters = self._use(self._sliding_owner or key)
        if key not in counters:
            self._prune(counters)
            counters.add(key)
        return super().incr(key, expiry, amount)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self._use(key)
        acquired = super().acquire_entry(key, limit, expiry, amount)
        # Entries past the first ``limit`` are outside the window for good (an entry is added only
        # when the one at ``limit - amount`` has left it): dropping them bounds the list.
        events = self.events.get(key)
        if events is not None:
            del events[limit:]
        return acquired

    def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        self._use(key)  # a refused hit creates no counter but is a use, as with GCRA's store
        self._sliding_owner = key  # the counters ``incr`` creates now are this key's
        try:
            return super().acquire_sliding_window_entry(key, limit, expiry, amount)
        finally:
            self._sliding_owner = None

    def reset(self) -> int | None:
        self._owners.clear()
        return super().reset()
