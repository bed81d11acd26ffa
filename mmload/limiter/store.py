"""A bounded LRU key store, like the in-memory store Mattermost gives throttled."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUStore(Generic[V]):
    """Holds at most ``capacity`` keys; the least recently used key is forgotten first.

    A forgotten key starts again with a full bucket, exactly as with throttled's memstore.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the key store needs room for at least one key, not {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        """The value, marking the key as just used."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def set(self, key: str, value: V) -> None:
        """Store a value; a new key counts as just used (existing keys were marked by ``get``)."""
        items = self._items
        items[key] = value
        if len(items) > self.capacity:
            items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items
