"""The bypass audit's sequence, without Locust: drain the bucket, then try each vector of
:mod:`mmload.results.bypass` on it, its requests interleaved with controls of the same shape and
no evasion (control, evasion, control, ..., control), and try once more, after another drain, a
vector the first try left undecided (a few at most).  ``send`` sends one request and answers its
status (0: not sent); the Locust scenario (:mod:`mmload.harness.scenarios.bypass`) and the
tests' synthesized servers each supply one, so what runs live is what the tests replay.

Bounded: the first drain stops at the documented burst plus ``DRAIN_EXTRA`` requests, the others
at ``REDRAIN`` (each sooner after ``REFUSED_IN_A_ROW`` refusals), each try sends
``2 * EVASIONS + 1`` requests, and at most ``RETRIES`` vectors are tried again, none when the
first drain met no refusals."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from mmload.results import bypass

DRAIN_EXTRA = 50  # requests beyond the documented burst the first drain may send
REDRAIN = 20  # requests the drain before a second try may send (the bucket is nearly empty)
REFUSED_IN_A_ROW = 5  # the drain is over: this many refusals one after the other
RETRIES = 6  # undecided vectors tried once more, at most

Send = Callable[[bypass.Request], int]


def drain(send: Send, path: str, most: int, limited: Collection[int]) -> bool:
    """Requests without evasion until ``REFUSED_IN_A_ROW`` refusals in a row, ``most`` at
    most; whether they came."""
    in_a_row = 0
    for _ in range(most):
        in_a_row = in_a_row + 1 if send(bypass.control(path)) in limited else 0
        if in_a_row >= REFUSED_IN_A_ROW:
            return True
    return False


def attempt(
    send: Send, vector: bypass.Vector, path: str, first: int, clock: Callable[[], float]
) -> bypass.Attempt:
    """One try of ``vector``: ``EVASIONS`` requests with it (variants ``first``, ``first + 1``,
    ...), each between two controls."""
    started = clock()
    order, statuses, detail = "", [], ""
    for k in range(bypass.EVASIONS):
        order += "CE"
        statuses.append(send(bypass.control(path)))
        request = bypass.evasion(vector, path, first + k)
        detail = detail or request.shown()
        statuses.append(send(request))
    order += "C"
    statuses.append(send(bypass.control(path)))
    return bypass.Attempt(vector.name, order, statuses, round(clock() - started, 4), detail)


def run(
    send: Send,
    path: str,
    burst: int,
    refill_per_s: float,
    limited: Collection[int],
    vectors: Collection[bypass.Vector] = bypass.VECTORS,
    clock: Callable[[], float] = time.monotonic,
) -> list[bypass.Attempt]:
    """Every vector tried on a drained bucket; one left undecided in a way another try may
    decide (the bucket had refilled, or the try was slow) is tried again after another drain,
    ``RETRIES`` at most."""
    refused = frozenset(limited)
    drained = drain(send, path, burst + 1 + DRAIN_EXTRA, refused)
    attempts, retries = [], RETRIES if drained else 0  # no refusals: another try tells nothing
    for n, vector in enumerate(vectors):
        first = 2 * n * bypass.EVASIONS  # a second try spells and spoofs otherwise
        tried = attempt(send, vector, path, first, clock)
        attempts.append(tried)
        if retries and bypass.judge_one(vector, tried, refill_per_s, refused).again:
            retries -= 1
            drain(send, path, REDRAIN, refused)
            attempts.append(attempt(send, vector, path, first + bypass.EVASIONS, clock))
    return attempts
