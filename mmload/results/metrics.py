"""A run's numbers for Prometheus: counters from the exact merged totals (:class:`Tally`), gauges
from the live view (:class:`Live`: the latest Remaining and Limit per key, the enforced-rate
estimate) and the documented rate.

Keys become a label only while there are at most ``MAX_KEY_LABELS`` of them: a run of
thousands of users must not make thousands of series.  Keys are already hashes of tokens and
addresses (never a secret).  Pure: the serving is :mod:`mmload.harness.prometheus`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from mmload.limiter.rate import Documented
from mmload.results.live import ALL_KEYS, Live
from mmload.results.record import OUTCOMES, outcome
from mmload.results.tally import Tally

MAX_KEY_LABELS = 50  # more keys than this: per-key series are left out (mmload_keys says so)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def families(tally: Tally, view: dict[str, Any] | None, documented: Documented) -> list[Metric]:
    """Every metric of the run as it stands; ``view`` is :meth:`Live.view`'s (None: no gauges
    of the latest headers or the estimate yet)."""
    requests = CounterMetricFamily(
        "mmload_requests",
        "Requests by endpoint and outcome (accepted, limited, error), all "
        "processes of the run together",
        labels=["endpoint", "outcome"],
    )
    for endpoint, statuses in sorted(tally.by_endpoint.items()):
        counts = dict.fromkeys(OUTCOMES, 0)
        for status, n in statuses.items():
            counts[outcome(status, tally.limited)] += n
        for name, n in counts.items():
            requests.add_metric([endpoint, name], n)
    keys = GaugeMetricFamily("mmload_keys", "Rate-limit keys the run has sent as")
    keys.add_metric([], len(tally.by_key))
    found: list[Metric] = [requests, keys]
    labelled = len(tally.by_key) <= MAX_KEY_LABELS
    if labelled:
        by_key = CounterMetricFamily(
            "mmload_key_requests",
            "Requests by rate-limit key and outcome",
            labels=["key", "outcome"],
        )
        for key, outcomes in sorted(tally.by_key.items()):
            for name in OUTCOMES:
                by_key.add_metric([key, name], outcomes.get(name, 0))
        found.append(by_key)
    rate = GaugeMetricFamily("mmload_documented_rate", "The documented rate, requests per second")
    rate.add_metric([], documented.per_sec)
    found.append(rate)
    if view is not None:
        found += _from_view(view, labelled)
    return found


def _from_view(view: dict[str, Any], labelled: bool) -> list[Metric]:
    remaining = GaugeMetricFamily(
        "mmload_ratelimit_remaining",
        "The latest Remaining the server sent, per key",
        labels=["key"],
    )
    limit = GaugeMetricFamily(
        "mmload_ratelimit_limit", "The latest Limit the server sent, per key", labels=["key"]
    )
    estimate = GaugeMetricFamily(
        "mmload_enforced_rate_estimate",
        "The live estimate of the enforced rate, requests per "
        "second (median accepted per second over recent seconds with refusals)",
    )
    rows = view.get("rows", [])
    if rows and rows[0].get("enforced") is not None:  # the widest row: all keys, or the one
        estimate.add_metric([], rows[0]["enforced"])
    seen: set[str] = set()
    for row in rows:  # a key's first row covers all its endpoints
        key = row["key"]
        if key == ALL_KEYS or key in seen or not labelled:
            continue
        seen.add(key)
        if row.get("remaining") is not None:
            remaining.add_metric([key], row["remaining"])
        if row.get("limit") is not None:
            limit.add_metric([key], row["limit"])
    return [remaining, limit, estimate]


class RunCollector(Collector):
    """A ``prometheus_client`` collector asking ``source()`` for the numbers at each scrape."""

    def __init__(self, source: Any) -> None:
        self.source = source  # () -> (tally, live or None, documented, now)

    def collect(self) -> Iterator[Metric]:
        tally, live, documented, now = self.source()
        view = live.view(now) if isinstance(live, Live) else None
        yield from families(tally, view, documented)


def registry(source: Any) -> CollectorRegistry:
    """A registry of the run's metrics alone (no process or platform collectors)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(RunCollector(source))
    return found
