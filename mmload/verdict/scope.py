"""Which clients share a bucket, and how many buckets serve one key.

With headers: while a bucket is draining, each acceptance takes one from Remaining.  Read the
acceptances of a group of clients in send order: if they share one bucket, Remaining falls by one
from each to the next; if each has its own, the group's sequence repeats values (each client
at its own count).  The coarsest grouping whose sequence falls one by one is the scope.

Without headers: whose steady rate matches the documented one: each user's, each address's, or
everybody's together.

Some scopes are the same buckets for some clients: from one address, its bucket is everybody's;
when each user sends from an address of its own, a bucket per user is one per address.  The
scope says so (``also``), and the check of the expected scope does not pretend to tell them apart.

Buckets per key: one bucket's Remaining while draining is one falling sequence; a key served by
two buckets (two nodes behind a round-robin balancer, each with its own store, as Mattermost's
cluster nodes keep theirs) shows two interleaved ones.  When no grouping drains one bucket, the
finest grouping whose every key drains k interleaved sequences, each falling one by one, is the
scope, with k buckets per key.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace

import numpy as np

from mmload.results.block import Block
from mmload.verdict.rates import combine, first_rate
from mmload.verdict.streams import Stream, distinct, split, stream

ONE_BY_ONE = 0.9  # share of steps that must fall by one for a group to be one bucket
MIN_STEPS = 10
MAX_DRAIN = 5_000  # Remaining values of a first drain looked at for buckets per key
MAX_CHAINS = 16  # more falling sequences than this: it is not buckets that Remaining counts


@dataclass(frozen=True)
class Scope:
    scope: str  # shared, per-address, per-user or unknown
    grouping: str  # how to split the requests into buckets: all, source or user
    evidence: str  # how it was told, in words
    also: tuple[str, ...] = ()  # scopes these clients cannot tell from ``scope``


def falling_share(s: Stream) -> tuple[float, int]:
    """(share of consecutive acceptances whose Remaining falls by exactly one, how many steps)
    over the first drain (before the stream's first refusal: later a window that frees slots
    one by one makes Remaining go up and down), counting steps quicker than a token comes
    back, in the order the bucket gave the values out (see ``_bucket_order``).  A token that
    comes back during the drain makes one value repeat: up to as many repeats as tokens came
    back are not held against one bucket."""
    refused = np.flatnonzero(s.limited)
    head = s.take(slice(0, refused[0] if len(refused) else len(s)))
    acc = head.accepted & np.isfinite(head.remaining)
    t, r = head.t[acc], head.remaining[acc]
    if len(r) < 2:
        return 0.0, 0
    half_token = _refill_time(s)
    quick = np.diff(t) < half_token
    r, same_run = _bucket_order(r, quick)
    steps = same_run & (r[:-1] >= 1)
    falls = (r[1:] - r[:-1])[steps]
    came_back = round(float((np.diff(t) * quick).sum()) / (2 * half_token))
    n = int(steps.sum()) - min(int((falls == 0).sum()), came_back)
    if n <= 0:
        return 0.0, 0
    return float((falls == -1).sum() / n), n


def _bucket_order(r: np.ndarray, quick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remaining within each run of quick steps sorted falling: the order a bucket handed the
    values out.  Requests that several processes send within a moment of each other reach the
    server in either order (one stalled for 40 ms between taking its send time and sending,
    on a busy 2-core host).  Also whether each step stays within one run."""
    run = np.concatenate(([0], np.cumsum(~quick)))
    order = np.lexsort((-r, run))
    return r[order], run[order][1:] == run[order][:-1]


def _refill_time(s: Stream) -> float:
    """Half the time a token takes to come back, from the stream's own acceptances."""
    estimate = first_rate(s)
    rate = (
        estimate.rate
        if estimate
        else max(float(s.accepted.sum()), 1.0) / max(float(s.t[-1] - s.t[0]), 1.0)
    )
    return 0.5 / max(rate, 1e-6)


def _one_bucket(streams: list[Stream]) -> tuple[bool, str]:
    shares = [falling_share(s) for s in streams]
    steps = sum(n for _, n in shares)
    if steps < MIN_STEPS:
        return False, ""
    share = sum(f * n for f, n in shares) / steps
    return share >= ONE_BY_ONE, f"{share:.0%} of {steps} draining steps fall by one"


def infer(block: Block, documented_rate: float, expected: str = "per-address") -> Scope:
    """The scope, and how to split the requests into buckets.  When the requests do not tell,
    the buckets are the keys the run expected (``--vary-by``: ``expected``), never one bucket
    for everybody: many clients each below the limit are not one client above it."""
    users, sources = distinct(block, "user"), distinct(block, "source")
    if not len(block):
        return Scope("unknown", "all", "no request was answered")
    named = NAMED if distinct(block, "bucket") else ""
    whole = split(block, refined("all", named))
    routes = _routes(block)
    if whole[0].has_headers:
        found = _with_headers(block, whole, users, sources, routes, named)
    else:
        found = _without_headers(block, documented_rate, users, sources, routes)
    if found.scope == "unknown":
        found = replace(
            found,
            grouping="key",
            evidence=f"{found.evidence}; the buckets are "
            f"taken to be the run's keys ({expected}, as --vary-by says)",
        )
    else:
        found = replace(found, also=alike(found.scope, block))
    if named:
        names = _names(distinct(block, NAMED))
        found = replace(
            found,
            grouping=refined(found.grouping, named),
            evidence=f"{found.evidence}; the server names its buckets "
            f"({names}), each a bucket of its own",
        )
    return found


NAMED = "bucket"  # the column of the server's own bucket names (IETF pk, X-RateLimit-Bucket)


def _names(n: int) -> str:
    return "1 name" if n == 1 else f"{n} names"


def refined(grouping: str, named: str) -> str:
    """``grouping`` with each of its keys split further by the server's bucket names (when
    ``named``): buckets a server names apart are apart, whatever else is shared."""
    if not named or named in grouping.split("+"):
        return grouping
    return named if grouping == "all" else f"{grouping}+{named}"


def _routes(block: Block) -> bool:
    """Whether the requests went to several endpoints, enough of each to tell buckets apart."""
    counts = np.bincount(block.codes["endpoint"])
    return int((counts >= MIN_STEPS).sum()) > 1


# grouping, scope, words: each key's routes apart, finest first
ROUTE_GROUPINGS = (
    ("user+endpoint", "per-user", "user"),
    ("source+endpoint", "per-address", "address"),
    ("endpoint", "shared", "route"),
)


def _per_route(block: Block, users: int, sources: int, named: str = "") -> Scope | None:
    """Buckets per route: each route of each key drains a bucket of its own (a server that
    limits routes apart), which a key's requests alone show as interleaved sequences."""
    for grouping, kind, noun in ROUTE_GROUPINGS:
        if (kind == "per-user" and users <= 1) or (kind == "per-address" and sources <= 1):
            continue
        apart, why = _one_bucket(split(block, refined(grouping, named)))
        if apart:
            kind = _together(sources) if kind == "shared" else kind
            return Scope(kind, grouping, f"each route of each {noun} drains its own bucket: {why}")
    return None


def _with_headers(
    block: Block, whole: list[Stream], users: int, sources: int, routes: bool, named: str = ""
) -> Scope:
    if users <= 1 and sources <= 1 and not routes:
        return Scope("unknown", "all", "one client: nobody to share a bucket with")
    together, why = _one_bucket(whole)
    if together:
        return Scope(_together(sources), "all", f"the clients' requests drain one bucket: {why}")
    if sources > 1:
        apart, why = _one_bucket(split(block, refined("source", named)))
        if apart:
            return Scope("per-address", "source", f"each address drains its own bucket: {why}")
    if users > 1:
        apart, why = _one_bucket(split(block, refined("user", named)))
        if apart:
            return Scope("per-user", "user", f"each user drains its own bucket: {why}")
    by_route = _per_route(block, users, sources, named) if routes else None
    return by_route or _several_per_key(block, users, sources, named)


def _together(sources: int) -> str:
    """One bucket for all the clients: shared among addresses, or one address's own."""
    return "shared" if sources > 1 else "per-address"


def alike(scope: str, block: Block) -> tuple[str, ...]:
    """The other scopes that would put the same requests in the same buckets: shared and
    per-address from one address, per-address and per-user when each user sends from an address
    of its own (and shared and per-user for one user).  Logins, which have no user yet, are left
    out: they are a handful, too few to tell buckets apart by."""
    users = block.codes["user"]
    named = np.array([bool(v) for v in block.tables["user"]], dtype=bool)[users]
    keys = {
        "shared": np.zeros(int(named.sum()), dtype=np.int64),
        "per-address": block.codes["source"][named],
        "per-user": users[named],
    }
    if scope not in keys:
        return ()
    return tuple(o for o in keys if o != scope and _same_groups(keys[scope], keys[o]))


def _same_groups(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labellings of the same rows (small non-negative codes) split them the same
    way: as many distinct pairs as distinct values of each."""
    if not len(a):
        return True
    a, b = a.astype(np.int64), b.astype(np.int64)
    pairs = len(np.unique(a * (int(b.max()) + 1) + b))  # one flat sort, not one of columns
    return pairs == np.count_nonzero(np.bincount(a)) == np.count_nonzero(np.bincount(b))


def _several_per_key(block: Block, users: int, sources: int, named: str = "") -> Scope:
    """Each key drains several buckets at once (nodes behind a balancer, each with its own
    store).  Finest grouping first: a coarser one would also see its finer keys' buckets
    interleaved."""
    for grouping, kind, more in (
        ("user", "per-user", users > 1),
        ("source", "per-address", sources > 1),
        ("all", "per-address", True),
    ):
        k, why = _interleaved(split(block, refined(grouping, named))) if more else (0, "")
        if k:
            kind = "shared" if grouping == "all" and sources > 1 else kind
            return Scope(
                kind,
                grouping,
                f"Remaining falls in {why}: {k} buckets behind each "
                "key, as behind a balancer over nodes that each limit on their own",
            )
    return Scope("unknown", "all", "Remaining falls one by one for no grouping of clients")


def _without_headers(
    block: Block, documented_rate: float, users: int, sources: int, routes: bool
) -> Scope:
    """Without headers, n buckets of a rate r and one bucket of n x r admit the same requests
    in all; only who gets them differs.  So: does each user's own steady rate match the
    documented one (a bucket each), each address's (a bucket per address: n addresses get n x r
    in all, as nginx's ``limit_req`` keyed on the client address gives), or everybody's together
    (one bucket)?  Finest first: a coarser grouping's rate is its finer keys' rates added up."""
    close = 0.15 * documented_rate
    together = first_rate(stream("all", block))
    in_all = "" if together is None else f" ({together.rate:.3g}/s in all)"
    tried = [
        ("user", "per-user", "user", users > 1),
        ("source", "per-address", "address", sources > 1),
    ] + [
        (g, k, f"route of each {n}", routes and (k != "per-user" or users > 1))
        for g, k, n in ROUTE_GROUPINGS
    ]
    for grouping, kind, noun, more in tried:
        own = _own_rate(block, grouping) if more else None
        # one route that got what all of them got in all drained a bucket alone: nothing says
        # the other routes have buckets of their own
        one_route = own is not None and together is not None and abs(together.rate - own) <= close
        if "endpoint" in grouping and one_route:
            continue
        if own is not None and abs(own - documented_rate) <= close:
            kind = _together(sources) if kind == "shared" else kind
            why = f"no headers; each {noun} got {own:.3g}/s, the documented rate{in_all}"
            return Scope(kind, grouping, why)
    if (users > 1 or sources > 1) and together and abs(together.rate - documented_rate) <= close:
        why = f"no headers; all clients together got {together.rate:.3g}/s, the documented rate"
        return Scope(_together(sources), "all", why)
    return Scope(
        "unknown",
        "all",
        "no rate-limit headers, and no grouping of clients gets the documented rate",
    )


def _own_rate(block: Block, grouping: str) -> float | None:
    """The steady rate each key of the grouping got (the median over the keys), None if none
    was saturated long enough."""
    own = combine([e for s in split(block, grouping) if (e := first_rate(s)) is not None])
    return None if own is None else own.rate


def buckets_per_key(streams: list[Stream]) -> int:
    """How many falling Remaining sequences the busiest streams' drains interleave (the median of
    up to five; 1 when no drain tells, see ``chain_counts``)."""
    counts = chain_counts(streams)
    return int(np.median(counts)) if counts else 1


def chain_counts(streams: list[Stream]) -> list[int]:
    """The falling sequences each of the busiest streams' drains interleaves, for those whose
    drain tells: empty without headers, or when no bucket drained quickly enough (a steady run
    below the limit), so that buckets per key are not decided."""
    counts = [c.count for s in streams[:5] if s.has_headers and (c := _chains(s)) is not None]
    return [c for c in counts if c]


def _interleaved(streams: list[Stream]) -> tuple[int, str]:
    """(k, words) when each stream's drain interleaves k > 1 sequences that each fall one by
    one: k buckets behind every key, as a round-robin balancer over k nodes that each keep their
    own store gives; (0, "") otherwise."""
    found = [c for s in streams[:5] if (c := _chains(s)) is not None and c.count]
    steps = sum(c.steps for c in found)
    if not found or steps < MIN_STEPS:
        return 0, ""
    k = int(np.median([c.count for c in found]))
    share = sum(c.by_one * c.steps for c in found) / steps
    if k < 2 or share < ONE_BY_ONE:
        return 0, ""
    return k, f"{k} interleaved sequences, each falling by one in {share:.0%} of {steps} steps"


@dataclass(frozen=True)
class Chains:
    count: int  # sequences that run side by side, each a tenth of the drain's values or more
    steps: int  # steps within those sequences that fall by one or skip values (not refills)
    by_one: float  # the share of them that fall by exactly one


@dataclass
class _Sequence:
    first: int  # where in the drain it starts and ends
    last: int
    size: int = 1
    ones: int = 0  # steps that fall by exactly one
    skips: int = 0  # steps that fall by more


def _drain(s: Stream) -> np.ndarray:
    """Remaining of the acceptances that drained the stream's bucket(s), falling: from
    the last pause (two tokens' time without an acceptance: the buckets filled up again, as in
    the second between the logins and the load) to the first refusal.  Empty when too short, or
    too slow to tell: fewer than two requests for each token that came back meanwhile."""
    refused = np.flatnonzero(s.limited)
    head = s.take(slice(0, refused[0] if len(refused) else len(s)))
    acc = head.accepted & np.isfinite(head.remaining)
    t, r = head.t[acc], head.remaining[acc]
    if len(r) < MIN_STEPS:
        return r[:0]
    token = 2 * _refill_time(s)
    pauses = np.flatnonzero(np.diff(t) >= 2 * token)
    if len(pauses):
        t, r = t[pauses[-1] + 1 :], r[pauses[-1] + 1 :]
    if len(r) < MIN_STEPS or float(t[-1] - t[0]) / token > len(r) / 2:
        return r[:0]
    # falling, as each bucket handed its values out: requests of several processes reach the
    # server a moment out of send order (see _bucket_order)
    return np.sort(r[r >= 1])[::-1][:MAX_DRAIN]


def _chains(s: Stream) -> Chains | None:
    """The falling sequences the drain interleaves, one per bucket (see ``_place``).  Only those
    holding a tenth of the values count, and only as many as run side by side at once (a
    window that resets mid-drain starts a sequence after the first one, not beside it).  None
    when there is too little to tell, or Remaining does not fall (a fixed header, say)."""
    r = _drain(s)
    if len(r) < MIN_STEPS:
        return None
    top = float(r.max())
    tails: list[float] = []  # the last value of each sequence, ascending
    seqs: list[_Sequence] = []  # in the same order
    for at, value in enumerate(r.tolist()):
        k, step = _place(tails, value, top)
        if k == len(tails):
            if k == MAX_CHAINS:
                return None
            tails.append(value)
            seqs.append(_Sequence(at, at))
            continue
        seq = seqs[k]
        seq.ones += step == "one"
        seq.skips += step == "skip"
        seq.size, seq.last, tails[k] = seq.size + 1, at, value
    big = [q for q in seqs if q.size >= len(r) / 10]
    side_by_side = max(
        (sum(1 for q in big if q.first <= p.first <= q.last) for p in big), default=0
    )
    steps = sum(q.ones + q.skips for q in big)
    return Chains(side_by_side, steps, sum(q.ones for q in big) / steps if steps else 0.0)


def _place(tails: list[float], value: float, top: float) -> tuple[int, str]:
    """Which sequence ``value`` continues, and how: the one it falls by one from; else one whose
    last value it repeats (a token came back meanwhile), unless it is the drain's top value (a
    full bucket's first answer: a sequence of its own); else the one it falls the least from
    (others took the values between); else a new one (index ``len(tails)``)."""
    k = bisect.bisect_left(tails, value + 1)
    if k < len(tails) and tails[k] == value + 1:
        return k, "one"
    k = bisect.bisect_left(tails, value)
    if value < top and k < len(tails) and tails[k] == value:
        return k, "refill"
    return bisect.bisect_right(tails, value), "skip"
