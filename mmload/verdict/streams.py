"""The requests a rate limiter decided on, as numpy columns, split into the streams one bucket
each would see.

Logins count like any request: Mattermost limits every route, and a run's logins drain the
bucket its load then starts from (keyed by user, a login has no token yet: it falls in its
address's bucket, the stream of user "").  Requests that got no answer are left out: only a
response says what the limiter decided.  Times are send times: on the wire to a nearby server,
the order the limiter saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmload.results.block import Block

GROUPINGS = ("all", "source", "user")  # one bucket; one per source address; one per user


@dataclass
class Stream:
    """One (supposed) bucket's requests in send order."""

    name: str
    t: np.ndarray  # send times, UNIX seconds
    limited: np.ndarray  # bool: answered 429
    limit: np.ndarray  # the headers' values, NaN where absent
    remaining: np.ndarray
    reset: np.ndarray
    retry_after: np.ndarray
    window: np.ndarray
    date: np.ndarray
    status: np.ndarray
    answered: np.ndarray  # when the answer came back (send time + latency), UNIX seconds

    def __len__(self) -> int:
        return len(self.t)

    @property
    def accepted(self) -> np.ndarray:
        return ~self.limited

    @property
    def has_headers(self) -> bool:
        return bool(np.isfinite(self.remaining).any() or np.isfinite(self.limit).any())

    def take(self, rows: np.ndarray | slice) -> Stream:
        return Stream(self.name, *(getattr(self, f)[rows] for f in _COLUMNS))


_COLUMNS = ("t", "limited", "limit", "remaining", "reset", "retry_after", "window", "date",
            "status", "answered")  # fmt: skip


def decided(block: Block) -> Block:
    """The requests the limiter decided on (those answered), in send order."""
    kept = block.take(block.numbers["status"] > 0)
    return kept.take(np.argsort(kept.numbers["sent"], kind="stable"))


def stream(name: str, block: Block) -> Stream:
    n = block.numbers
    return Stream(
        name, n["sent"], n["status"] == 429, n["limit"], n["remaining"], n["reset"],
        n["retry_after"], n["window"], n["date"], n["status"], n["sent"] + n["latency_ms"] / 1e3,
    )  # fmt: skip


def split(block: Block, grouping: str) -> list[Stream]:
    """One stream per value of ``grouping`` (all requests together for "all"), biggest first."""
    if grouping == "all":
        return [stream("all", block)] if len(block) else []
    codes, table = block.codes[grouping], block.tables[grouping]
    order = np.lexsort((block.numbers["sent"], codes))  # by value, in send order within each
    whole = stream("", block.take(order))
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.diff(sorted_codes)) + 1
    bounds = zip([0, *starts.tolist()], [*starts.tolist(), len(order)], strict=True)
    streams = []
    for a, b in bounds:  # slices of one sorted copy: no copy per value
        part = whole.take(slice(a, b))
        part.name = table[int(sorted_codes[a])] or "(none)"
        streams.append(part)
    return sorted(streams, key=len, reverse=True)


def distinct(block: Block, column: str) -> int:
    """How many distinct non-empty values ``column`` has among the block's rows."""
    table = block.tables[column]
    return sum(1 for c in np.unique(block.codes[column]) if table[c])
