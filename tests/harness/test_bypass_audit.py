"""The bypass audit (:mod:`mmload.harness.audit`, judged by :mod:`mmload.results.bypass`) replayed
on synthesized servers the live tests cannot reach in seconds: GCRA and ``limits``' fixed, moving
and sliding windows, from 1/s to 10/s with bursts and without, windows off the second, and a
latency tail (one request in 20 takes 50-400 ms).  A correct server is never said to be dodged;
each bypassable keying is found by the vectors it opens and by no other."""

from __future__ import annotations

from collections import Counter

import pytest

from mmload.harness import audit
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.results import bypass
from tests.support.synth_bypass import PATH, Server, Synthesized, tail

ALGORITHMS = ("gcra", "fixed-window", "moving-window", "sliding-window")
RATES = (Rate(10, 20), Rate(4, 0), Rate(3, 3), Rate(1, 0))
SEEDS = range(8)
SPELLINGS = {"trailing-slash", "doubled-slash", "dot-segment", "path-case", "semicolon-parameter"}
KEYINGS = {  # the keying, and the vectors it opens
    "correct": (Keying(), set()),
    "trusts X-Forwarded-For": (
        Keying(trust_forwarded=True),
        {"x-forwarded-for", "x-forwarded-for-appended"},
    ),
    "keys on X-Real-IP": (Keying(vary_by_header="X-Real-IP"), {"x-real-ip"}),
    "a bucket per path as sent": (Keying(per_route=True), SPELLINGS),
    "per token (VaryByUser)": (Keying(vary_by_user=True), {"fresh-login"}),
}


def judged(algorithm: str, rate: Rate, keying: Keying, seed: int) -> dict[str, bool | None]:
    server = Server(algorithm, rate, keying, phase=seed / len(SEEDS), latency=tail)
    return {j.vector.name: j.works for j in Synthesized(server, seed).audit()}


@pytest.mark.parametrize("name", list(KEYINGS))
def test_each_keying_is_dodged_by_exactly_the_vectors_it_opens(name: str) -> None:
    keying, opened = KEYINGS[name]
    found: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    runs = 0
    for algorithm in ALGORITHMS:
        for rate in RATES:
            for seed in SEEDS:
                runs += 1
                verdicts = judged(algorithm, rate, keying, seed)
                assert set(verdicts) == {v.name for v in bypass.VECTORS}
                dodged = {v for v, works in verdicts.items() if works}
                assert dodged <= opened, (algorithm, str(rate), seed, dodged - opened)
                found.update(dodged)
                decided.update(v for v, works in verdicts.items() if works is not None)
    # every vector it does not open is decided in nearly every run, latency tail and all
    assert all(decided[v.name] >= 0.9 * runs for v in bypass.VECTORS if v.name not in opened)
    for vector in opened - {"fresh-login"}:  # found where a spelling or header gets a new bucket
        assert found[vector] >= 0.75 * runs, (vector, found[vector], runs)
    if "fresh-login" in opened:  # only where logins themselves get through at that rate
        assert found["fresh-login"] >= 0.3 * runs, found


def test_the_audit_is_bounded() -> None:
    """However the server answers, the audit sends at most a few hundred requests beyond the
    documented burst: one that never refuses gets each vector tried once, after one drain; one
    that refills as fast as it is asked gets a few tries again, each after a short drain."""
    sent: list[bypass.Request] = []

    def server(through_every: int, refusing_first: int = 0) -> audit.Send:
        def send(request: bypass.Request) -> int:
            sent.append(request)
            if len(sent) <= refusing_first:
                return 429
            return 429 if through_every and len(sent) % through_every else 200

        return send

    burst, tries = 20, 2 * bypass.EVASIONS + 1
    attempts = audit.run(server(0), PATH, burst, 10.0, {429}, clock=lambda: 0.0)
    assert len(attempts) == len(bypass.VECTORS)
    assert len(sent) == burst + 1 + audit.DRAIN_EXTRA + len(attempts) * tries <= burst + 300
    sent.clear()  # refuses, but lets every other request through: nothing is ever drained
    attempts = audit.run(server(2), PATH, burst, 10.0, {429}, clock=lambda: 0.0)
    assert len(attempts) == len(bypass.VECTORS)  # the first drain met no 5 refusals in a row
    sent.clear()  # drained, then one in 3 through: every try undecided
    attempts = audit.run(server(3, refusing_first=30), PATH, burst, 10.0, {429}, clock=lambda: 0.0)
    assert len(attempts) == len(bypass.VECTORS) + audit.RETRIES
    assert (
        len(sent)
        <= burst + 1 + audit.DRAIN_EXTRA + len(attempts) * tries + audit.RETRIES * (audit.REDRAIN)
        <= burst + 500
    )
