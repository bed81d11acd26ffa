"""The requests a rate limiter decided on, as numpy columns, split into the streams one bucket
each would see.

Logins count like any request: Mattermost limits every route, and a run's logins drain the
bucket its load then starts from (keyed by user, a login has no token yet: it falls in its
address's bucket, the stream of user "").  Requests that got no answer are left out: only a
response says what the limiter decided.  Times are send times: on the wire to a nearby server,
the order the limiter saw.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from mmload.limiter.rate import Documented
from mmload.results.block import Block

LIMITED = (429,)  # the statuses that are refusals unless the run says otherwise
MALFORMED = "malformed "  # how the collector's header problems begin (mmload.dialects.fields)


@dataclass(frozen=True)
class Unread:
    """Responses whose rate-limit headers could not be read (malformed), of all answered."""

    malformed: int
    answered: int
    example: str  # the most frequent problem, as the collector wrote it


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
    endpoint: np.ndarray  # codes into the block's endpoint table
    policy: np.ndarray  # codes into the block's policy table (the IETF policy a response names)
    route: str = ""  # the documented route all its requests went to, "" for the general limit

    def __len__(self) -> int:
        return len(self.t)

    @property
    def accepted(self) -> np.ndarray:
        return ~self.limited

    @property
    def has_headers(self) -> bool:
        return bool(np.isfinite(self.remaining).any() or np.isfinite(self.limit).any())

    def take(self, rows: np.ndarray | slice) -> Stream:
        columns = {f: getattr(self, f)[rows] for f in _COLUMNS}
        return Stream(self.name, **columns, route=self.route)


_COLUMNS = (
    "t",
    "limited",
    "limit",
    "remaining",
    "reset",
    "retry_after",
    "window",
    "date",
    "status",
    "answered",
    "endpoint",
    "policy",
)
REFUSED = "refused"  # the column decided() adds: 1 where the status is one of the refusals


def decided(block: Block, limited: Collection[int] = LIMITED) -> Block:
    """The requests the limiter decided on (those answered), in send order, each marked refused
    or not by ``limited``, the statuses the run counts as refusals."""
    kept = block.take(block.numbers["status"] > 0)
    kept = kept.take(np.argsort(kept.numbers["sent"], kind="stable"))
    refused = np.isin(kept.numbers["status"], np.array(sorted(limited), dtype=np.int32))
    kept.numbers[REFUSED] = refused.astype(np.float64)
    return kept


def refused(block: Block) -> np.ndarray:
    """Which rows are refusals: as :func:`decided` marked them, else Mattermost's 429s."""
    n = block.numbers
    return n[REFUSED] > 0 if REFUSED in n else n["status"] == 429


def stream(name: str, block: Block) -> Stream:
    n = block.numbers
    return Stream(
        name,
        n["sent"],
        refused(block),
        n["limit"],
        n["remaining"],
        n["reset"],
        n["retry_after"],
        n["window"],
        n["date"],
        n["status"],
        n["sent"] + n["latency_ms"] / 1e3,
        block.codes["endpoint"],
        block.codes["policy"],
    )


def grouping_codes(block: Block, grouping: str) -> tuple[np.ndarray, list[str]]:
    """Codes and names of a grouping: a text column, or several joined by "+" (one value per
    combination, e.g. ``key+endpoint``: a bucket per key and route)."""
    columns = grouping.split("+")
    codes = block.codes[columns[0]].astype(np.int64)
    names = list(block.tables[columns[0]])
    for column in columns[1:]:
        table = block.tables[column]
        codes = codes * max(len(table), 1) + block.codes[column]
        names = [f"{a} {b}".strip() for a in names for b in table]
    return codes, names


def split(block: Block, grouping: str) -> list[Stream]:
    """One stream per value of ``grouping`` (all requests together for "all"), biggest first."""
    if grouping == "all":
        return [stream("all", block)] if len(block) else []
    codes, table = grouping_codes(block, grouping)
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


def with_routes(requests: Block, documented: Documented) -> Block:
    """The requests, each marked with the documented route it went to (a text column
    ``route``: "" for the general limit), so that each route's requests are buckets apart."""
    table = ["", *(r.endpoint for r in documented.routes)]
    names = requests.tables["endpoint"]
    of_endpoint = np.array([table.index(n) if n in table else 0 for n in names] or [0])
    requests.codes["route"] = of_endpoint[requests.codes["endpoint"]].astype(np.uint32)
    requests.tables["route"] = table
    return requests


def unread(requests: Block) -> Unread:
    """How many answers had rate-limit headers the collector found malformed."""
    codes, table = requests.codes["error"], requests.tables["error"]
    used, counts = np.unique(codes, return_counts=True)
    found = {
        table[u]: n
        for u, n in zip(used.tolist(), counts.tolist(), strict=True)
        if MALFORMED in table[u]
    }
    example = max(found, key=found.__getitem__, default="")
    shown = "; ".join(p for p in example.split("; ") if p.startswith(MALFORMED))
    return Unread(sum(found.values()), len(requests), shown)
