"""Bench user for collector_overhead.py: a bare FastHttpUser hammering one static file.

When ``BENCH_RESULT`` names a file, the load phase (test_start to test_stop) is written to it:
requests, failures, wall seconds and this process's CPU seconds, so start-up and shutdown
(imports, the collector's final write) are not counted per request.
"""

from __future__ import annotations

import json
import os
import resource
import time
from typing import Any

from locust import FastHttpUser, constant, events, task

_started: dict[str, float] = {}


class Hammer(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/x.json")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    _started.update(wall=time.perf_counter(), cpu=_cpu())


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    path = os.environ.get("BENCH_RESULT")
    if path and _started:
        total = environment.stats.total
        result = {
            "requests": total.num_requests,
            "failures": total.num_failures,
            "seconds": time.perf_counter() - _started["wall"],
            "cpu": _cpu() - _started["cpu"],
            # this process alone, up to the end of the load (not what runs after it, such as
            # the verdict, which mmload computes in a process of its own)
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        with open(path, "w") as f:
            json.dump(result, f)
