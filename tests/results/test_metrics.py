"""The run's Prometheus metrics (:mod:`mmload.results.metrics`): counters from the exact totals,
gauges from the live view, per-key series only below the cardinality cap."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.results.live import Live
from mmload.results.metrics import MAX_KEY_LABELS, registry
from mmload.results.tally import Tally
from tests.support.records import LOGIN, ME, record, saturated


def samples(tally: Tally, live: Live | None, now: float = 100.0) -> dict[tuple[str, ...], float]:
    text = generate_latest(registry(lambda: (tally, live, Documented(10, 100), now))).decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, *(f"{k}={v}" for k, v in sorted(s.labels.items())))] = s.value
    return found


def test_counters_are_the_exact_totals_by_endpoint_and_outcome() -> None:
    records = [*saturated(range(10, 20), key="addr:a"), record(9.0, 200, LOGIN), record(9.5, 0)]
    block = Block.from_records(records)
    tally, live = Tally(), Live(Documented(10, 100))
    tally.add(block)
    live.add(block)
    got = samples(tally, live)
    assert got[("mmload_requests_total", f"endpoint={ME}", "outcome=accepted")] == 100
    assert got[("mmload_requests_total", f"endpoint={ME}", "outcome=limited")] == 300
    assert got[("mmload_requests_total", f"endpoint={ME}", "outcome=error")] == 1
    assert got[("mmload_requests_total", f"endpoint={LOGIN}", "outcome=accepted")] == 1
    assert sum(v for k, v in got.items() if k[0] == "mmload_requests_total") == len(records)
    assert got[("mmload_key_requests_total", "key=addr:a", "outcome=limited")] == 300
    assert got[("mmload_keys",)] == 1
    assert got[("mmload_documented_rate",)] == 10
    assert got[("mmload_ratelimit_remaining", "key=addr:a")] == 0  # the last answer: a 429
    assert got[("mmload_ratelimit_limit", "key=addr:a")] == 101
    assert got[("mmload_enforced_rate_estimate",)] == 10  # 10 accepted in each saturated second


def test_many_keys_are_counted_but_not_labelled() -> None:
    records = [record(10.0 + i / 1000, 200, key=f"addr:{i}", remaining=5) for i in range(80)]
    tally = Tally()
    tally.add(Block.from_records(records))
    got = samples(tally, None)
    assert got[("mmload_keys",)] == 80 > MAX_KEY_LABELS
    assert not any(k[0].startswith(("mmload_key_requests", "mmload_ratelimit")) for k in got)
    assert got[("mmload_requests_total", f"endpoint={ME}", "outcome=accepted")] == 80
