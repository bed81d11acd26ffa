"""Which clients share a bucket, and how many buckets serve one key.

With headers: while a bucket is draining, each acceptance takes one from Remaining.  Read the
acceptances of a group of clients in send order: if they share one bucket, Remaining falls by one
from each to the next; if each has its own, the group's sequence repeats values (each client
at its own count).  The coarsest grouping whose sequence falls one by one is the scope.

Without headers: the aggregate accepted rate against the documented one, times the clients.

Buckets per key: one bucket's Remaining while draining is one falling sequence; a key served by
two buckets (two servers behind a round-robin balancer) shows two interleaved ones.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from mmload.results.block import Block
from mmload.verdict.measure import combine, enforced_rate
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


def falling_share(s: Stream) -> tuple[float, int]:
    """(share of consecutive acceptances whose Remaining falls by exactly one, how many steps)
    over the first drain (before the stream's first refusal: later a window that frees slots
    one by one makes Remaining go up and down), counting steps quicker than a token comes
    back."""
    refused = np.flatnonzero(s.limited)
    head = s.take(slice(0, refused[0] if len(refused) else len(s)))
    acc = head.accepted & np.isfinite(head.remaining)
    t, r = head.t[acc], head.remaining[acc]
    if len(r) < 2:
        return 0.0, 0
    steps = (np.diff(t) < _refill_time(s)) & (r[:-1] >= 1)
    n = int(steps.sum())
    if not n:
        return 0.0, 0
    return float(((r[1:] - r[:-1]) == -1)[steps].sum() / n), n


def _refill_time(s: Stream) -> float:
    """Half the time a token takes to come back, from the stream's own acceptances."""
    estimate = enforced_rate(s)
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


def infer(block: Block, documented_rate: float) -> Scope:
    users, sources = distinct(block, "user"), distinct(block, "source")
    whole = split(block, "all")
    if not whole:
        return Scope("unknown", "all", "no request was answered")
    if not whole[0].has_headers:
        return _without_headers(block, documented_rate, users)
    if users <= 1 and sources <= 1:
        return Scope("unknown", "all", "one client: nobody to share a bucket with")
    together, why = _one_bucket(whole)
    if together:
        kind = "shared" if sources > 1 else "per-address"
        return Scope(kind, "all", f"the clients' requests drain one bucket: {why}")
    if sources > 1:
        apart, why = _one_bucket(split(block, "source"))
        if apart:
            return Scope("per-address", "source", f"each address drains its own bucket: {why}")
    if users > 1:
        apart, why = _one_bucket(split(block, "user"))
        if apart:
            return Scope("per-user", "user", f"each user drains its own bucket: {why}")
    return Scope("unknown", "all", "Remaining falls one by one for no grouping of clients")


def _without_headers(block: Block, documented_rate: float, users: int) -> Scope:
    """Without headers, n buckets of a rate r and one bucket of n x r admit the same requests
    in all; only who gets them differs.  So: does each user's own steady rate match the
    documented one (a bucket each), or does everybody's together (one bucket)?"""
    close = 0.15 * documented_rate
    if users > 1:
        own = combine([e for s in split(block, "user") if (e := enforced_rate(s)) is not None])
        if own is not None and abs(own[0] - documented_rate) <= close:
            return Scope(
                "per-user", "user", f"no headers; each user got {own[0]:.3g}/s, the documented rate"
            )
    together = enforced_rate(stream("all", block))
    if users > 1 and together is not None and abs(together.rate - documented_rate) <= close:
        return Scope(
            "per-address",
            "all",
            f"no headers; all users together got {together.rate:.3g}/s, the documented rate",
        )
    return Scope(
        "unknown",
        "all",
        "no rate-limit headers, and no grouping of clients gets the documented rate",
    )


def buckets_per_key(streams: list[Stream]) -> int:
    """How many falling Remaining sequences the busiest stream's drain interleaves (1 without
    headers): the fewest strictly falling chains that cover it."""
    counts = [_chains(s) for s in streams[:5] if s.has_headers]
    counts = [c for c in counts if c]
    return int(np.median(counts)) if counts else 1


def _chains(s: Stream) -> int:
    """Strictly falling chains covering the drain before the first refusal (best fit: each value
    joins the chain whose last value is the smallest above it), counting only chains that hold
    a tenth of the values or more, so a token that came back mid-drain starts no bucket."""
    acc = s.accepted & np.isfinite(s.remaining)
    refused = np.flatnonzero(s.limited)
    end = refused[0] if len(refused) else len(s)
    r = s.remaining[:end][acc[:end]]
    r = r[r >= 1][:MAX_DRAIN]
    if len(r) < MIN_STEPS:
        return 0
    tails: list[float] = []  # the last value of each chain, ascending
    sizes: list[int] = []
    for value in r.tolist():
        k = bisect.bisect_right(tails, value)
        if k < len(tails):
            tails[k] = value
            sizes[k] += 1
        elif len(tails) < MAX_CHAINS:
            tails.append(value)
            sizes.append(1)
        else:
            return 0  # Remaining does not fall (a fixed header, say): nothing to count
    return sum(1 for size in sizes if size >= len(r) / 10)
