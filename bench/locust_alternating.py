"""Bench user for collector_overhead.py: the collector switched on and off in one Locust process.

The same bare user as locust_bare.py, plus mmload's plugin, with the collector's request listener
attached only in every other slice of ``BENCH_SLICE`` seconds (in A B B A order, so that a slow
drift of the host hits both alike).  An "on" slice also pays for its own flush (run at its end,
inside it), so both halves of the collector's cost are counted.  Being one process, both kinds of
slice share everything else: the imports, the heap, the host's mood that minute.

Writes to ``BENCH_RESULT``: one entry per slice, [collector on?, CPU seconds, requests, seconds].
"""

from __future__ import annotations

import json
import os
import resource
import time
from typing import Any

import gevent
from locust import events
from locust_bare import Hammer  # noqa: F401  Locust puts this file's folder on sys.path

from mmload.harness import plugin
from mmload.harness.state import state as run_state

plugin.install()

ORDER = (True, False, False, True)
WARM_UP = 1.5  # seconds: the users log nothing, connections are made


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _alternate(environment: Any, slice_seconds: float, out: list[list[Any]]) -> None:
    collector = run_state(environment).collector
    assert collector is not None  # the plugin's init listener comes first
    request = environment.events.request
    stats = environment.stats.total
    gevent.sleep(WARM_UP)
    for k in range(10**6):
        on = ORDER[k % len(ORDER)]
        if on:
            request.add_listener(collector.capture.on_request)
        cpu, count, wall = _cpu(), stats.num_requests, time.perf_counter()
        gevent.sleep(slice_seconds)
        if on:
            request.remove_listener(collector.capture.on_request)
            collector.flush()
        out.append([on, _cpu() - cpu, stats.num_requests - count, time.perf_counter() - wall])


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    collector: Any = run_state(environment).collector  # its flusher is replaced below
    environment.events.request.remove_listener(collector.capture.on_request)
    collector._flush_forever = lambda: None  # the slices flush, each its own
    slices: list[list[Any]] = []
    state: dict[str, Any] = {}

    def start(**_: Any) -> None:
        seconds = float(os.environ.get("BENCH_SLICE", "1"))
        state["greenlet"] = gevent.spawn(_alternate, environment, seconds, slices)

    def stop(**_: Any) -> None:
        if "greenlet" in state:
            state.pop("greenlet").kill()
        path = os.environ.get("BENCH_RESULT")
        if path:
            with open(path, "w") as f:
                json.dump(slices, f)

    environment.events.test_start.add_listener(start)
    environment.events.test_stop.add_listener(stop)
