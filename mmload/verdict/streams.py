"""The requests a rate limiter decided on, as numpy columns, split into the streams one bucket
each would see.

Logins are left out (they are keyed apart when the server keys by user, and a run makes them
before its load), and so are requests that got no answer: only a response says what the limiter
decided.  Times are send times: on the wire to a nearby server, the order the limiter saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmload.results.block import Block
from mmload.results.tally import is_login

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
            "status")  # fmt: skip


def decided(block: Block) -> Block:
    """The requests the limiter decided on: answered, and not logins; in send order."""
    logins = np.array([is_login(e) for e in block.tables["endpoint"]] or [False])
    keep = (block.numbers["status"] > 0) & ~logins[block.codes["endpoint"]]
    kept = block.take(keep)
    return kept.take(np.argsort(kept.numbers["sent"], kind="stable"))


def stream(name: str, block: Block) -> Stream:
    n = block.numbers
    return Stream(
        name, n["sent"], n["status"] == 429, n["limit"], n["remaining"], n["reset"],
        n["retry_after"], n["window"], n["date"], n["status"],
    )  # fmt: skip


def split(block: Block, grouping: str) -> list[Stream]:
    """One stream per value of ``grouping`` (all requests together for "all"), biggest first."""
    if grouping == "all":
        return [stream("all", block)] if len(block) else []
    codes, table = block.codes[grouping], block.tables[grouping]
    streams = [stream(table[c] or "(none)", block.take(codes == c)) for c in np.unique(codes)]
    return sorted(streams, key=len, reverse=True)


def distinct(block: Block, column: str) -> int:
    """How many distinct non-empty values ``column`` has among the block's rows."""
    table = block.tables[column]
    return sum(1 for c in np.unique(block.codes[column]) if table[c])
