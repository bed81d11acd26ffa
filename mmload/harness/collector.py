"""The rate-limit collector: a Locust plugin on events, never a patch.

Every process turns each response into a record (:mod:`mmload.harness.capture`: the request
listener copies a few values, no I/O).  Once a second, a process makes a block of its records and
its partial per-second and per-key aggregates: a worker sends them to the master as one message;
the master (or the single process) merges them and writes the run folder.  Totals are exact
however many processes there are; ``--max-records`` only caps the per-request file.  Each role is
a class of its own, chosen once by :func:`register`: :class:`WorkerCollector` on a worker,
:class:`MasterCollector` on the master and in a single process (a master without workers).

At the end of a test the master asks every worker for its last batch and waits for each to arrive
(their users may need up to the stop timeout to finish the request they are in), instead of
Locust's fixed half-second wait for workers' last reports; then the test's run folder gets its
run.json, verdict and report, before Locust goes on (to linger with the web UI, or to quit).  A
test started again from the web UI gets a run folder of its own.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import gevent
import gevent.event
from locust.env import Environment
from locust.runners import STATE_INIT, STATE_MISSING, STATE_STOPPED, MasterRunner, WorkerRunner

from mmload.harness.capture import Capture
from mmload.harness.pacing import load_start
from mmload.harness.runfolder import RunFolder
from mmload.harness.state import state
from mmload.harness.workers import WorkerWatch
from mmload.options import Settings
from mmload.results import utc
from mmload.results.block import Block
from mmload.results.record import limited_label
from mmload.results.tally import Tally
from mmload.results.timeline import Second, Timeline

log = logging.getLogger("mmload")

MESSAGE = "mmload"  # worker -> master: a batch
FINISH = "mmload_finish"  # master -> worker: stop your users and send your last batch
FLUSH_SECONDS = 1.0
LAST_BATCH_WAIT = 10.0  # beyond the stop timeout, for a worker's last batch to arrive


def grace_seconds(request_timeout: float) -> float:
    """A second's row is final once no request sent in it can still be answered within one wait:
    the request timeout after its end, plus a flush.  The timeout bounds each wait (connecting,
    each next part of the answer), not the total: an answer that trickles in later adds a second
    row for its second, which the readers merge."""
    return request_timeout + 1.0 + FLUSH_SECONDS


class Collector:
    """What every process of a run does: turn each response into a record, count what its users
    note, and once a second :meth:`flush` what came since (what that means is the role's: a
    worker sends it, the master writes it); at the end, flush once more."""

    def __init__(
        self, environment: Environment, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.env = environment
        self.clock = clock
        self.settings = settings
        self.capture = Capture()
        warm = self.capture.warm_up()  # and the aggregates' and the frame's first calls too
        Timeline(settings.limited_status).add(warm)
        Tally(settings.limited_status).add(warm)
        warm.encode()
        # open seconds: a worker's since its last batch; the master's
        self.seconds = Timeline(settings.limited_status)
        self.counters: dict[str, int] = {}  # events users note (re-logins, ...): summed up
        self._flusher: gevent.Greenlet | None = None
        self._finishing = False
        self._finished = gevent.event.Event()
        self.after_finish: list[Callable[[], None]] = []  # once the last of everything is written

    def listen(self) -> None:
        """Wire this collector into its process's Locust events and messages."""
        events = self.env.events
        events.request.add_listener(self.capture.on_request)
        self._listen()
        events.test_start.add_listener(lambda **_: self.start())
        events.quitting.add_listener(lambda **_: self.quit())

    def _listen(self) -> None:
        """The role's own events and messages."""

    def note(self, counter: str, n: int = 1) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + n

    # once a second
    def start(self) -> None:
        if self._flusher is None:
            self._flusher = gevent.spawn(self._flush_forever)

    def _flush_forever(self) -> None:
        while True:
            gevent.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # e.g. a full disk: keep the load going, say so every second
                log.exception("mmload: could not write the run folder")

    def take(self) -> tuple[Block, Tally, dict[str, int]]:
        """This process's news since last time: a block of records, its tally, counters."""
        block = self.capture.take()
        tally = Tally(self.settings.limited_status)
        tally.add(block)
        counters, self.counters = self.counters, {}
        return block, tally, counters

    def flush(self, final: bool = False) -> None:
        raise NotImplementedError

    def quit(self) -> None:
        """Locust is quitting: finish."""
        self.finish()

    def finish(self) -> None:
        """Write the last of everything, once.  Locust may fire ``quitting`` twice (its SIGTERM
        handler, then its main greenlet once the runner is gone); the second call waits for
        the first, which may be waiting for the verdict, so the exit code includes it."""
        if self._finishing:
            self._finished.wait()
            return
        self._finishing = True
        try:
            self._stop_flushing()
            self._last()
            for then in self.after_finish:  # e.g. the metrics port's last answers
                then()
        finally:
            self._finished.set()

    def _stop_flushing(self) -> None:
        if self._flusher is not None:
            self._flusher.kill(block=False)
            self._flusher = None

    def _last(self) -> None:
        self.flush(final=True)


class WorkerCollector(Collector):
    """A worker's: it writes nothing itself, but sends the master a batch once a second (records,
    the seconds they make, tally, counters), and its last batch when the master asks for it."""

    def __init__(
        self,
        environment: Environment,
        runner: WorkerRunner,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(environment, settings, clock)
        self.runner = runner

    def _listen(self) -> None:
        self.runner.register_message(FINISH, self._asked_to_finish, concurrent=True)
        self.env.events.test_stop.add_listener(lambda **_: self.flush())

    def _asked_to_finish(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.runner.stop()  # users finish the request they are in, within the stop timeout
        self.flush(final=True)

    def start(self) -> None:
        self._told(Settings.from_options(self.env.parsed_options))  # come with the spawn
        super().start()

    def _told(self, settings: Settings) -> None:
        """A worker started on its own (``locust --worker``) learns the run's refusals from
        the master's options, which Locust sends with the spawn message."""
        if settings.limited_status != self.settings.limited_status:
            self.settings = replace(self.settings, limited_status=settings.limited_status)
            self.seconds.limited = settings.limited_status

    def flush(self, final: bool = False) -> None:
        """Hand everything since the last batch to the master (nothing if nothing came)."""
        block, tally, counters = self.take()
        server, samples = self.capture.version_id, self.capture.take_samples()
        self.seconds.add(block)
        if len(block) or counters or samples or final:
            news = pack(block, self.seconds.drain(), tally, counters, final)
            extra = {"server": server, "samples": samples, "pid": os.getpid()}
            self.runner.send_message(MESSAGE, {**news, **extra})


class MasterCollector(Collector):
    """The master's, and a single process's (a master without workers): merges its own records
    and every worker's batches, writes the run folder once a second and shows each block to the
    viewers (the web UI's live view); at the end of a test it waits for every worker's last
    batch, then the run folder gets its verdict and report, and gives the process its exit code.

    Each test (Locust's test start to its test stop) has a run folder of its own: the first the
    one made at init, each test started after it (from the web UI) a new one
    (:meth:`RunFolder.successor`); ``tests`` lists them, in the order they started."""

    def __init__(
        self,
        environment: Environment,
        settings: Settings,
        scenario: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(environment, settings, clock)
        self.folder = RunFolder(environment, settings, scenario)  # the current test's
        self.tests: list[RunFolder] = []  # every test's folder, once it started
        self._testing = False  # a test is under way (started, not stopped)
        self._closing: gevent.event.Event | None = None  # set once the last test's are all in
        self._judged: list[gevent.event.Event] = []  # set once a test's verdict and report are
        self.viewers: list[Callable[[Block], None]] = []  # the web UI's live view, if any
        self.awaiting: set[str] = set()  # workers whose last batch has not come yet
        self.watch = WorkerWatch(clock)  # when each worker was heard from, which are lost
        self._last_progress = clock()
        self._warned: object = None  # the records writer whose stop was reported
        self.grace = grace_seconds(settings.request_timeout)

    def _listen(self) -> None:
        runner = self.env.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(MESSAGE, lambda msg, **_: self.absorb(msg.data, msg.node_id))
            self.env.events.heartbeat_sent.add_listener(
                lambda client_id, timestamp, **_: self.watch.heard(client_id, timestamp)
            )
        self.env.events.test_stop.add_listener(lambda **_: self.stopped())

    def start(self) -> None:
        """A test starts (Locust's test start): in the folder made at init if it is the first,
        else in a new one, once the last test's records are all in its own."""
        if self._closing is not None:
            self._closing.wait()
            self._closing = None
            self.folder = self.folder.successor()
            if isinstance(self.env.runner, MasterRunner):
                self.watch.next_test(self.env.runner)
        if not self._testing:
            self._testing = True
            self.folder.begin(load_start(self.env))
            self.tests.append(self.folder)
        super().start()

    def stopped(self) -> None:
        """The test stopped (Locust's test stop): the last of its records, then its run.json,
        verdict and report, before Locust goes on.  Nothing for a stop without a test (Locust
        stops a runner that never started at its shutdown)."""
        if self._testing:
            self._testing = False
            self._end()

    def _end(self) -> None:
        """End the current test: every worker's last batch, the final rows, then its run folder
        is finished (a verdict and a report, each a process of its own)."""
        folder = self.folder
        closing, judged = gevent.event.Event(), gevent.event.Event()
        self._closing = closing
        self._judged.append(judged)
        try:
            try:
                if isinstance(self.env.runner, MasterRunner):
                    self.collect_last_batches(self.env.runner)
                self._stop_flushing()
                self.flush(final=True)
                folder.close()
            finally:
                closing.set()
            folder.finish()
        finally:
            judged.set()

    def flush(self, final: bool = False) -> None:
        """Merge this process's news and write the run folder: every row once it is final
        (all of them when ``final``), the open ones as they stand."""
        block, tally, counters = self.take()
        server, samples = self.capture.version_id, self.capture.take_samples()
        self.seconds.add(block)
        if isinstance(self.env.runner, MasterRunner):
            self.watch_workers(self.env.runner)
        self.folder.add(block.encode(), len(block), tally, counters)
        if self.viewers:
            self._show(lambda: block)
        self.folder.note_server(server, samples)
        self._write(final)

    def absorb(self, data: dict[str, Any], worker: str = "") -> None:
        """Merge a worker's batch (one that comes once its test's folder is complete is left
        out, and said when it held records or counts: an empty one loses nothing)."""
        if self.folder.closed:
            if not data.get("rows") and not any((data.get("counters") or {}).values()):
                return
            log.warning(
                "mmload: a batch of %d record(s) from worker %s came after its test's run folder "
                "was complete: left out",
                data.get("rows", 0),
                worker or "?",
            )
            return
        self.folder.add(
            data["frame"], data["rows"], Tally.from_dict(data["tally"]), data["counters"]
        )
        self.folder.note_server(data.get("server") or "", data.get("samples") or {})
        self.seconds.merge(Second.from_dict(d) for d in data["seconds"])
        if self.viewers:  # only for them does the master decode a worker's records
            self._show(lambda: Block.decode(data["frame"])[0])
        self.watch.heard(worker, pid=int(data.get("pid") or 0))
        if data.get("final"):
            self.awaiting.discard(worker)
            self.watch.finished.add(worker)

    def _show(self, block: Callable[[], Block]) -> None:
        """Hand a block to the viewers; a view never breaks the collection."""
        try:
            shown = block()
            for viewer in self.viewers:
                viewer(shown)
        except Exception:
            log.exception("mmload: the live view could not take a batch")

    def _write(self, final: bool) -> None:
        now = self.clock()
        closed = self.seconds.drain(float("inf") if final else now - self.grace)
        still_open = sorted(self.seconds.seconds.values(), key=lambda s: s.second)
        self.folder.write(closed, still_open)
        records = self.folder.records
        if records.stopped and self._warned is not records:
            self._warned = records  # once per test's folder
            print(f"mmload: WARNING: {records.stopped}; the run goes on", file=sys.stderr)
        if self.settings.progress and now - self._last_progress >= self.settings.progress:
            self._last_progress = now
            line = progress_line(closed + still_open, now, self.folder.started, self.settings)
            if line:
                print(f"{line}  records {size(records.bytes)}", file=sys.stderr, flush=True)

    def collect_last_batches(self, runner: MasterRunner) -> None:
        """At the end of a test: each worker stops its users and sends its last batch; wait for
        every one of them (or note the ones that never came)."""
        workers = [c.id for c in runner.clients.all if c.state != STATE_MISSING]
        self.awaiting = set(workers)
        for worker in workers:
            runner.send_message(FINISH, None, client_id=worker)
        deadline = time.monotonic() + (self.env.stop_timeout or 0) + LAST_BATCH_WAIT
        while self.awaiting and time.monotonic() < deadline:
            self.awaiting -= set(self.watch_workers(runner))  # lost: they will never answer
            gevent.sleep(0.05)
        for worker in self.watch.silent(workers):
            self._missing(runner, worker, lost=False)

    def watch_workers(self, runner: MasterRunner) -> list[str]:
        """Note the workers Locust has marked missing since last time (every second)."""
        lost = self.watch.newly_lost(runner)
        for worker in lost:
            self._missing(runner, worker, lost=True)
        return lost

    def _missing(self, runner: MasterRunner, worker: str, lost: bool) -> None:
        note = self.watch.note(worker, runner, self.folder.load_started, lost)
        if worker not in self.folder.missing_workers:
            self.folder.missing_workers.append(worker)
        self.folder.notes.append(note)
        log.error("mmload: %s", note)

    def quit(self) -> None:
        """On SIGTERM Locust fires quitting *before* it stops the users; stop them first (they
        finish the request they are in, within the stop timeout) so the totals are complete."""
        runner = self.env.runner
        if runner is not None and runner.state not in (STATE_STOPPED, STATE_INIT):
            runner.quit()
        self.finish()

    def _last(self) -> None:
        """The test under way (or, if none ever started, the folder made at init) ends now;
        then wait for every test's verdict and report."""
        if self._closing is None:
            self._testing = False
            self._end()
        for judged in self._judged:
            judged.wait()


def pack(
    block: Block, seconds: list[Second], tally: Tally, counters: dict[str, int], final: bool
) -> dict[str, Any]:
    """msgpack-safe: bytes, lists, dicts, numbers and strings only."""
    return {
        "frame": block.encode(),
        "rows": len(block),
        "seconds": [s.to_dict() for s in seconds],
        "tally": tally.to_dict(),
        "counters": counters,
        "final": final,
    }


def progress_line(seconds: list[Second], now: float, started: datetime, settings: Settings) -> str:
    """Rates over the last few complete seconds, and the time since ``started``."""
    recent = [s for s in seconds if now - 1 - settings.progress <= s.second < int(now) - 1]
    if not recent:
        return ""
    n = len(recent)
    lows = [s.remaining_min for s in recent if s.remaining_min is not None]
    highs = [s.remaining_max for s in recent if s.remaining_max is not None]
    remaining = f"{min(lows):g}..{max(highs):g}" if lows and highs else "-"
    elapsed = (utc.now() - started).total_seconds()
    return (
        f"mmload {elapsed:5.0f}s  offered {sum(s.offered for s in recent) / n:7.1f}/s  "
        f"accepted {sum(s.accepted for s in recent) / n:7.1f}/s  "
        f"{limited_label(settings.limited_status)} "
        f"{sum(s.limited for s in recent) / n:7.1f}/s  "
        f"errors {sum(s.errors for s in recent) / n:5.1f}/s  Remaining {remaining}"
    )


def size(n: int) -> str:
    """A number of bytes for people: 512 B, 3.4 MB, 1.2 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def register(
    environment: Environment, scenario: str, viewer: Callable[[Block], None] | None = None
) -> Collector:
    """Wire this Locust process's collector into it (``events.init``): a worker's on a worker,
    else the master's, which shows each block to ``viewer`` (a worker has no web UI)."""
    settings = Settings.from_options(environment.parsed_options)
    runner = environment.runner
    collector: Collector
    if isinstance(runner, WorkerRunner):
        collector = WorkerCollector(environment, runner, settings)
    else:
        collector = MasterCollector(environment, settings, scenario)
        collector.viewers += [viewer] if viewer is not None else []
    state(environment).collector = collector
    collector.listen()
    return collector
