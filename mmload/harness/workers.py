"""The master's watch over its workers: when each was last heard from, and which were lost.

Locust's master expects a heartbeat from each worker every second; after ``HEARTBEAT_LIVENESS``
(3) missed ones it marks the worker missing and runs on without it (its users are not moved to
the other workers unless ``--enable-rebalancing``).  A worker can also fall silent at the end,
before its last batch.  Either way what it sent since its last batch never reaches the run
folder: run.json lists it in ``missing_workers`` and says in ``notes``, in words, which worker
it was (index, host, pid) and about when it was lost (the last time it was heard from).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from locust.runners import STATE_MISSING, MasterRunner

from mmload.results import utc


@dataclass
class Seen:
    last: float  # UNIX time of its last heartbeat or batch
    pid: int = 0  # its process id, which its batches carry


def _utc(ts: float) -> str:
    return f"{utc.clock(ts)} UTC"


class WorkerWatch:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.seen: dict[str, Seen] = {}
        self.finished: set[str] = set()  # their last batch came
        self.noted: set[str] = set()  # lost or silent, and said so

    def heard(self, worker: str, when: float | None = None, pid: int = 0) -> None:
        """A heartbeat (Locust's ``heartbeat_sent`` on the master) or a batch from ``worker``."""
        seen = self.seen.setdefault(worker, Seen(0.0))
        seen.last = max(seen.last, self.clock() if when is None else when)
        seen.pid = pid or seen.pid

    def next_test(self, runner: MasterRunner) -> None:
        """A new test starts: who sent its last batch, and who was heard from, is the new
        test's to learn; a worker still missing stays noted (it is not lost again)."""
        missing = {c.id for c in runner.clients.all if c.state == STATE_MISSING}
        self.seen.clear()
        self.finished.clear()
        self.noted &= missing

    def newly_lost(self, runner: MasterRunner) -> list[str]:
        """Workers Locust has marked missing since the last call."""
        missing = [c.id for c in runner.clients.all if c.state == STATE_MISSING]
        return [worker for worker in missing if worker not in self.noted]

    def silent(self, asked: list[str]) -> list[str]:
        """Workers that were asked for (or sent) batches, sent no last one and were not noted."""
        return sorted((set(asked) | set(self.seen)) - self.finished - self.noted)

    def note(self, worker: str, runner: Any, load_started: float | None, lost: bool) -> str:
        """run.json's sentence about a lost (or silent) worker; remembers it was said."""
        self.noted.add(worker)
        now = self.clock()
        seen = self.seen.get(worker)
        pid = seen.pid if seen and seen.pid else "?"
        who = f"worker index {_index(runner, worker)} ({_host(worker)}, pid {pid}, id {worker})"
        if seen is None or not seen.last:
            when = "it was never heard from"
        else:
            into = f", {seen.last - load_started:.1f} s into the load" if load_started else ""
            when = f"it was last heard from at {_utc(seen.last)}{into}"
        if lost:
            what = (
                f"{who} was lost: Locust's master marked it missing at {_utc(now)} (no "
                f"heartbeat); {when}. The run went on without it and its users"
            )
        else:
            what = f"{who} sent no last batch by {_utc(now)}; {when}"
        return what + "; what it sent after its last batch is not in the run folder."


def _index(runner: Any, worker: str) -> str:
    indexes = getattr(runner, "worker_indexes", {})
    return str(indexes[worker]) if worker in indexes else "?"


def _host(worker: str) -> str:
    """Locust names its workers ``HOSTNAME_UUIDHEX``."""
    host, sep, _ = worker.rpartition("_")
    return f"host {host}" if sep and host else "host ?"
