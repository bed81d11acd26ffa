"""The rate-limit collector: a Locust plugin on events, never a patch.

Every process turns each response into a :class:`~mmload.record.Record` (the request listener only
parses headers and appends a tuple: no I/O).  Once a second, a worker hands its records and
per-second partial aggregates to the master; the master (or the single process) merges them and
writes the run folder.  Totals are exact however many processes there are; ``--max-records``
only caps the per-request file.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_STOPPED, MasterRunner, WorkerRunner

from mmload.harness.headers import snapshot
from mmload.harness.options import Settings
from mmload.harness.pacing import load_start
from mmload.harness.runsummary import RunSummary
from mmload.results.record import Record
from mmload.results.tally import Tally
from mmload.results.timeline import Second, Timeline

log = logging.getLogger("mmload")

MESSAGE = "mmload"
FLUSH_SECONDS = 1.0
GRACE_SECONDS = 15  # a second's row is final once its requests can no longer be answered
LIMITED_SUFFIX = " [429 limited]"  # Locust's own stats show limited requests apart
_CUT = -len(LIMITED_SUFFIX)


def _record(values: tuple[Any, ...]) -> Record:
    """``Record(*values)`` without the Python-level ``__new__`` of a NamedTuple (hot path)."""
    return tuple.__new__(Record, values)


class Collector:
    def __init__(self, environment: Environment, settings: Settings, scenario: str) -> None:
        self.env = environment
        self.settings = settings
        self.pending: list[Record] = []
        self.local_seconds = Timeline()  # this process's partial seconds, drained every flush
        self.seconds = Timeline()  # master: merged open seconds, written as they close
        worker = isinstance(environment.runner, WorkerRunner)
        self.summary = None if worker else RunSummary(environment, settings, scenario)
        self._flusher: gevent.Greenlet | None = None
        self._last_progress = time.time()

    # the hot path: runs inline for every request of every user
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        snap, problem = snapshot(getattr(response, "headers", None))
        if status == 429 and name.endswith(LIMITED_SUFFIX):
            name = name[:_CUT]
        elif exception is not None:
            problem = f"{problem}; {exception}"[:200] if problem else str(exception)[:200]
        key = context.get("mmload_key", "") if context else ""
        sent = start_time if start_time is not None else time.time() - response_time / 1000
        self.pending.append(_record((sent, response_time, name, status, key, *snap, problem)))

    # once a second
    def start(self) -> None:
        if self.summary is not None and self.summary.load_started is None:
            self.summary.load_started = load_start(self.env)
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # e.g. a full disk: keep the load going, say so every second
                log.exception("mmload: could not write the run folder")

    def take(self) -> dict[str, Any]:
        """This process's news since last time: records, partial seconds, tallies."""
        records, self.pending = self.pending, []
        self.local_seconds.add(records)
        tally = Tally()
        tally.add(records)
        return {"records": records, "seconds": self.local_seconds.drain(), "tally": tally}

    def flush(self, final: bool = False) -> None:
        news = self.take()
        if self.summary is None:  # a worker: hand everything to the master
            runner = self.env.runner
            if runner is not None and (news["records"] or news["seconds"]):
                runner.send_message(MESSAGE, pack(news))
            return
        self.absorb(news)
        self._write(final)

    def absorb(self, news: dict[str, Any]) -> None:
        """Master or single process: merge news from this process or a worker."""
        assert self.summary is not None
        self.summary.add_records(news["records"])
        self.summary.tally.merge(news["tally"])
        self.seconds.merge(news["seconds"])

    def _write(self, final: bool) -> None:
        assert self.summary is not None
        now = time.time()
        closed = self.seconds.drain(now - GRACE_SECONDS if not final else float("inf"))
        still_open = sorted(self.seconds.seconds.values(), key=lambda s: s.second)
        self.summary.write(closed, still_open)
        if self.settings.progress and now - self._last_progress >= self.settings.progress:
            self._last_progress = now
            line = self.summary.progress_line(closed + still_open, now)
            if line:
                print(line, file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._flusher is not None:
            self._flusher.kill(block=False)
            self._flusher = None
        self.flush(final=True)
        if self.summary is not None:
            self.summary.finish()


def pack(news: dict[str, Any]) -> dict[str, Any]:
    """msgpack-safe: lists, dicts, numbers and strings only."""
    return {
        "records": [tuple(r) for r in news["records"]],
        "seconds": [s.to_dict() for s in news["seconds"]],
        "tally": news["tally"].to_dict(),
    }


def unpack(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "records": [Record(*r) for r in data["records"]],
        "seconds": [Second.from_dict(d) for d in data["seconds"]],
        "tally": Tally.from_dict(data["tally"]),
    }


def register(environment: Environment, scenario: str) -> Collector:
    """Wire a collector into this Locust process (``events.init``)."""
    settings = Settings.from_options(environment.parsed_options)
    collector = Collector(environment, settings, scenario)
    events = environment.events
    events.request.add_listener(collector.on_request)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def report(client_id: str, data: dict[str, Any]) -> None:
            data[MESSAGE] = pack(collector.take())  # the last batch rides on Locust's last report

        events.report_to_master.add_listener(report)
    if isinstance(runner, MasterRunner):
        runner.register_message(MESSAGE, lambda msg, **kw: collector.absorb(unpack(msg.data)))

        def worker_report(client_id: str, data: dict[str, Any]) -> None:
            if MESSAGE in data:
                collector.absorb(unpack(data[MESSAGE]))

        events.worker_report.add_listener(worker_report)

    def quitting(**_: Any) -> None:
        # On SIGTERM Locust fires quitting *before* it stops the users; stop them first (they
        # finish the request they are in, within the stop timeout) so the totals are complete.
        if (
            runner is not None
            and not isinstance(runner, WorkerRunner)
            and runner.state not in (STATE_STOPPED, STATE_INIT)
        ):
            runner.quit()
        collector.finish()

    events.test_start.add_listener(lambda **kw: collector.start())
    events.quitting.add_listener(quitting)
    return collector
