"""The collector, the plugin's wiring and the users' tokens, with fake runners: what a response
becomes, how batches travel from workers to the master, which rows are final, what happens at
the end of a run, and how often an account logs in again."""

from __future__ import annotations

import argparse
import logging
import math
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent
import msgpack
import pytest
from geventhttpclient.header import Headers as FastHeaders
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_STOPPED, MasterRunner, WorkerNode, WorkerRunner
from requests.structures import CaseInsensitiveDict

from mmload import dialects
from mmload.harness.capture import IDENTITY, Capture, join_identity, limited_suffix
from mmload.harness.collector import (
    FINISH,
    MESSAGE,
    MasterCollector,
    WorkerCollector,
    grace_seconds,
    register,
)
from mmload.harness.diagnosis import failure
from mmload.harness.users import LoginFailed, Tokens
from mmload.limiter.decision import NS, Decision
from mmload.options import Settings, add_arguments
from mmload.results.folder import read_run
from mmload.results.records_file import read_records
from mmload.results.timeline_file import read_timeline

ME = "GET /api/v4/users/me"


def headers_of(pairs: list[tuple[str, str]], kind: type = FastHeaders) -> Any:
    headers = kind()
    for name, value in pairs:
        if kind is FastHeaders:
            headers.add(name, value)
        else:
            headers[name] = value
    return headers


def response(status: int, pairs: list[tuple[str, str]], kind: type = FastHeaders) -> Any:
    return SimpleNamespace(status_code=status, headers=headers_of(pairs, kind))


def fire(capture: Capture, resp: Any, name: str = ME, sent: float = 1000.0, **kw: Any) -> None:
    capture.on_request(
        request_type="GET",
        name=name,
        response_time=12.5,
        response_length=10,
        response=resp,
        context={IDENTITY: join_identity("addr:abc", "token:t1", "addr:abc")},
        start_time=sent,
        **kw,
    )


@pytest.mark.parametrize("dialect", [d for d in dialects.DIALECTS if d != "none"])
@pytest.mark.parametrize("kind", [FastHeaders, CaseInsensitiveDict])
def test_capture_records_what_each_dialect_says(dialect: str, kind: type) -> None:
    capture = Capture()
    decisions = [
        Decision(False, 101, 100, 1 * NS),
        Decision(False, 101, 7, 5 * NS + 1),
        Decision(True, 101, 0, 11 * NS, 2 * NS),
    ]
    wall = 1_764_387_160.0
    for k, d in enumerate(decisions):
        status = 429 if d.limited else 200
        name = ME + limited_suffix(429) if d.limited else ME
        fire(capture, response(status, dialects.render(dialect, d, wall, 11), kind), name, 1000 + k)
    records = list(capture.take().records())
    assert [r.endpoint for r in records] == [ME] * 3  # the 429 suffix is Locust's, not ours
    for r, d in zip(records, decisions, strict=True):
        assert (r.limit, r.remaining) == (d.limit, d.remaining)
        epoch = math.ceil(wall + d.reset_after_ns / NS)  # as the server computes it
        assert r.reset == (epoch if dialect == "epoch" else -(-d.reset_after_ns // NS))
        assert r.retry_after == (2 if d.limited else None)
        assert r.dialect == dialect and r.error == "" and r.key == "addr:abc"
        assert (r.user, r.source) == ("token:t1", "addr:abc")
        assert (r.status, r.latency_ms) == (429 if d.limited else 200, 12.5)


def test_capture_classifies_errors_and_malformed_headers() -> None:
    capture = Capture()
    fire(
        capture, SimpleNamespace(status_code=0, headers=None), exception=ConnectionError("refused")
    )
    fire(
        capture,
        response(
            200,
            [
                ("X-Ratelimit-Limit", "101"),
                ("X-Ratelimit-Remaining", "1_0"),
                ("X-Ratelimit-Reset", "1"),
            ],
        ),
    )
    fire(capture, response(500, [("Content-Type", "text/plain")]))
    refused, malformed, plain = capture.take().records()
    assert (refused.status, refused.error, refused.limit) == (0, "refused", None)
    assert (malformed.limit, malformed.remaining) == (101, None)
    assert "x-ratelimit-remaining" in malformed.error and "1_0" in malformed.error
    assert (plain.status, plain.dialect, plain.error) == (500, "", "")


def test_capture_reads_repeated_headers_and_reuses_what_it_parsed() -> None:
    capture = Capture()
    same = [("X-Ratelimit-Limit", "10"), ("X-Ratelimit-Remaining", "3"), ("X-Ratelimit-Reset", "1")]
    for _ in range(3):
        fire(capture, response(200, same))
    fire(capture, response(200, [*same, ("X-Ratelimit-Remaining", "4")]))  # sent twice, differing
    records = list(capture.take().records())
    assert [r.remaining for r in records] == [3, 3, 3, None]
    assert "x-ratelimit-remaining" in records[3].error
    assert len(capture._snapshots) == 2  # parsed once per distinct set of values


def test_capture_keeps_the_shape_of_the_first_error_bodies_and_the_servers_version() -> None:
    capture = Capture()
    for k in range(30):
        limited = response(429, [("X-Version-Id", "10.5.0.7.abc.false")])
        limited.content = b"limit exceeded\n"
        fire(capture, limited, name=ME + limited_suffix(429), sent=1000 + k)
    broken = response(500, [])
    broken.content = b"<html>bad gateway</html>"
    fire(capture, broken)
    assert capture.version_id == "10.5.0.7.abc.false"
    assert capture.take_samples() == {"429": {"limit exceeded": 20}, "500": {"html": 1}}


def test_retry_after_as_a_date_without_date_header_counts_from_the_answer() -> None:
    capture = Capture()
    retry = [("Retry-After", "Thu, 01 Jan 1970 00:16:50 GMT")]  # UNIX 1010
    fire(capture, response(429, retry), sent=1000.0)  # answered at 1000.0125
    (record,) = capture.take().records()
    assert record.retry_after == pytest.approx(1010 - 1000.0125)


# fake runners: the real classes (mmload checks isinstance), none of their networking
class FakeWorker(WorkerRunner):
    def __init__(self, environment: Environment, index: int) -> None:
        self.environment = environment
        self.greenlet = None  # for Runner.__del__
        self.worker_index = index
        self.custom_messages: dict[str, Any] = {}
        self.sent: list[tuple[str, Any]] = []
        self.stops = 0

    def send_message(self, msg_type: str, data: Any = None, client_id: Any = None) -> None:
        self.sent.append((msg_type, msgpack.unpackb(msgpack.packb(data))))  # as on the wire

    def stop(self) -> None:
        self.stops += 1


class Clients(dict):  # the part of locust.runners.WorkerNodes the collector uses
    @property
    def all(self) -> Any:
        return self.values()


class FakeMaster(MasterRunner):
    def __init__(self, environment: Environment, workers: list[str]) -> None:
        self.environment = environment
        self.greenlet = None  # for Runner.__del__
        self.custom_messages: dict[str, Any] = {}
        self.sent: list[tuple[str, Any, Any]] = []
        self.clients = Clients({w: WorkerNode(w, state=STATE_RUNNING) for w in workers})  # type: ignore[assignment]

    @property
    def worker_count(self) -> int:
        return len(self.clients)

    def send_message(self, msg_type: str, data: Any = None, client_id: Any = None) -> None:
        self.sent.append((msg_type, data, client_id))


def environment(tmp_path: Path, *argv: str) -> Environment:
    parser = argparse.ArgumentParser()
    add_arguments(parser, locust=False)
    options = parser.parse_args(["--run-dir", str(tmp_path / "run"), "--progress", "0", *argv])
    options.num_users, options.spawn_rate, options.run_time = 2, 2, 5
    return Environment(user_classes=[], parsed_options=options, host="http://127.0.0.1:1")


def worker_collector(tmp_path: Path, index: int) -> tuple[FakeWorker, WorkerCollector]:
    env = environment(tmp_path)
    runner = env.runner = FakeWorker(env, index)
    collector = register(env, "hammer")
    assert isinstance(collector, WorkerCollector)
    return runner, collector


def master_collector(env: Environment) -> MasterCollector:
    """The collector of a master (``env.runner`` a FakeMaster) or of a single process."""
    collector = register(env, "hammer")
    assert isinstance(collector, MasterCollector)
    return collector


@pytest.fixture
def verdict_processes(monkeypatch: Any) -> list[list[str]]:
    """What a finished run folder asks of ``mmload verify`` and ``mmload report``, recorded
    instead of run: each process takes a second or more, and the tests using this fixture are
    about the records, rows and totals written before them.  The real processes run in
    ``test_a_second_quitting_waits_for_the_first_and_writes_nothing_twice``."""
    asked: list[list[str]] = []

    def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        asked.append([str(arg) for arg in cmd])
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr("mmload.harness.runfolder.subprocess.run", run)
    return asked


def assert_verified_and_reported(asked: list[list[str]], folder: Path) -> None:
    """The run folder asked for its verdict, then its report, each on that folder."""
    assert [cmd[1:5] for cmd in asked] == [
        ["-m", "mmload", "verify", str(folder)],
        ["-m", "mmload", "report", str(folder)],
    ]


def mattermost(remaining: int) -> list[tuple[str, str]]:
    return dialects.render("mattermost", Decision(False, 101, remaining, NS), 0, 11)


def test_worker_batches_reach_the_master_exactly(
    tmp_path: Path, verdict_processes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fake master never answers FINISH: its workers' last batches came already
    monkeypatch.setattr("mmload.harness.collector.LAST_BATCH_WAIT", 0.2)
    runner, worker = worker_collector(tmp_path / "w", 0)
    env = environment(tmp_path)
    master_runner = FakeMaster(env, ["w0"])
    env.runner = master_runner
    master = master_collector(env)
    for k in range(50):
        status = 429 if k % 5 == 0 else 200
        answer = response(status, [*mattermost(k % 7), ("X-Version-Id", "10.5.0.1.abc.false")])
        answer.content = b"limit exceeded\n"
        fire(worker.capture, answer, sent=2000 + k / 25)
    worker.note("relogins")
    worker.flush()
    fire(worker.capture, response(200, mattermost(1)), sent=2002.5)
    worker.flush(final=True)
    assert [t for t, _ in runner.sent] == [MESSAGE, MESSAGE]
    master.awaiting = {"w0"}
    for _, data in runner.sent:
        master_runner.custom_messages[MESSAGE][0](msg=SimpleNamespace(data=data, node_id="w0"))
    assert master.awaiting == set()  # the last batch came
    master.finish()
    folder = tmp_path / "run"
    run = read_run(folder)
    assert run["totals"] == {"offered": 51, "accepted": 41, "limited": 10, "error": 0}
    assert run["logins"]["relogins"] == 1
    # what the server said it is and how its errors looked travel with the batches too
    assert run["server_version_id"] == "10.5.0.1.abc.false"
    assert run["error_bodies"] == {"429": {"limit exceeded": 10}}
    records = list(read_records(folder))
    assert len(records) == 51 and sorted(r.sent for r in records) == [r.sent for r in records]
    assert sum(row["offered"] or 0 for row in read_timeline(folder)) == 51
    assert not (tmp_path / "w" / "run").exists()  # a worker writes nothing itself
    assert_verified_and_reported(verdict_processes, folder)  # by the master alone


def test_a_worker_learns_the_runs_refusals_from_the_master_and_503s_are_limited(
    tmp_path: Path, verdict_processes: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker started on its own (without --limited-status) counts what the master was told:
    Locust updates its options with the spawn message, before test_start.  The users named the
    503s ``... [503 limited]``; the records carry the plain endpoint."""
    # the fake master never answers FINISH: its workers' last batches came already
    monkeypatch.setattr("mmload.harness.collector.LAST_BATCH_WAIT", 0.2)
    runner, worker = worker_collector(tmp_path / "w", 0)
    env = environment(tmp_path, "--limited-status", "429,503")
    master_runner = FakeMaster(env, ["w0"])
    env.runner = master_runner
    master = master_collector(env)
    vars(worker.env.parsed_options)["limited_status"] = [429, 503]  # as msgpack delivers it
    worker.env.events.test_start.fire(environment=worker.env)
    for k in range(20):
        status = 503 if k % 4 == 0 else 200
        name = ME + limited_suffix(503) if status == 503 else ME
        fire(worker.capture, response(status, []), name=name, sent=2000 + k / 10)
    fire(worker.capture, response(500, []), sent=2001.5)
    worker.finish()
    for _, data in runner.sent:
        master_runner.custom_messages[MESSAGE][0](msg=SimpleNamespace(data=data, node_id="w0"))
    master.finish()
    folder = tmp_path / "run"
    run = read_run(folder)
    assert run["settings"]["limited_status"] == [429, 503]
    assert run["totals"] == {"offered": 21, "accepted": 15, "limited": 5, "error": 1}
    assert run["endpoints"] == {ME: {"200": 15, "500": 1, "503": 5}}
    timeline = read_timeline(folder)
    assert sum(row["limited"] or 0 for row in timeline) == 5
    assert sum(row["errors"] or 0 for row in timeline) == 1
    assert_verified_and_reported(verdict_processes, folder)
    verify = verdict_processes[0]
    assert verify[verify.index("--limited-status") + 1] == "429,503"  # judged as it counted


def test_logins_all_refused_say_with_which_status(tmp_path: Path) -> None:
    env = environment(tmp_path, "--limited-status", "429,503")
    env.create_local_runner()
    collector = master_collector(env)
    login = "POST /api/v4/users/login"
    for k in range(3):
        fire(collector.capture, response(503, []), name=login + limited_suffix(503), sent=3000 + k)
    collector.flush()
    assert failure(collector.folder.tally) == (
        "no login succeeded (3 attempts, 3 of them answered 503 (rate-limited))"
    )


def test_a_row_stays_open_while_its_requests_can_still_be_answered(
    tmp_path: Path, verdict_processes: list[list[str]]
) -> None:
    """With a request timeout of 60 s, a second stays open 30 s on: a late answer (here a
    timeout) joins its second, which is written once the grace has passed, as one row."""
    env = environment(tmp_path, "--request-timeout", "60")
    env.create_local_runner()
    now = [5000.0]
    c = MasterCollector(
        env, Settings.from_options(env.parsed_options), "hammer", clock=lambda: now[0]
    )
    assert c.grace >= 60
    fire(c.capture, response(200, mattermost(3)), sent=4970.2)
    c.flush()  # 30 s later: its second is still open
    assert 4970 in c.seconds.seconds
    fire(
        c.capture,
        SimpleNamespace(status_code=0, headers=None),
        sent=4970.5,
        exception=TimeoutError("timed out"),
    )
    now[0] = 4970 + grace_seconds(60) + 1
    c.flush()
    assert c.seconds.seconds == {}
    c.finish()
    rows = read_timeline(tmp_path / "run")
    assert [(r["second"], r["offered"], r["errors"]) for r in rows] == [(4970, 2, 1)]


def test_quitting_stops_the_users_before_the_collector_finishes(
    tmp_path: Path, verdict_processes: list[list[str]]
) -> None:
    env = environment(tmp_path)
    runner = env.create_local_runner()
    collector = register(env, "hammer")
    runner.state = STATE_RUNNING

    def quit() -> None:  # a user finishing the request it was in
        fire(collector.capture, response(200, mattermost(5)), sent=3000.0)
        runner.state = STATE_STOPPED

    runner.quit = quit  # type: ignore[method-assign]
    env.events.quitting.fire(environment=env)
    assert read_run(tmp_path / "run")["totals"]["offered"] == 1
    assert_verified_and_reported(verdict_processes, tmp_path / "run")


def test_the_master_waits_for_every_workers_last_batch(
    tmp_path: Path, monkeypatch: Any, verdict_processes: list[list[str]]
) -> None:
    """The wait is the stop timeout and LAST_BATCH_WAIT beyond it: a batch later than
    LAST_BATCH_WAIT alone still counts."""
    monkeypatch.setattr("mmload.harness.collector.LAST_BATCH_WAIT", 0.2)
    env = environment(tmp_path)
    env.stop_timeout = 0.6
    runner = FakeMaster(env, ["w0", "w1"])
    env.runner = runner
    collector = master_collector(env)
    _, worker = worker_collector(tmp_path / "w", 0)

    def late_worker() -> None:  # its users need 0.4 s to stop, then it sends its last batch
        gevent.sleep(0.4)
        fire(worker.capture, response(200, mattermost(2)), sent=3000.0)
        worker.flush(final=True)
        wire = worker.env.runner.sent[-1][1]  # type: ignore[union-attr]
        runner.custom_messages[MESSAGE][0](msg=SimpleNamespace(data=wire, node_id="w0"))

    env.events.test_start.fire(environment=env)
    gevent.spawn(late_worker)
    env.events.test_stop.fire(environment=env)  # w1 never answers: noted after the wait
    assert [(t, c) for t, _, c in runner.sent] == [(FINISH, "w0"), (FINISH, "w1")]
    assert collector.folder.missing_workers == ["w1"]
    collector.finish()
    run = read_run(tmp_path / "run")
    assert run["totals"]["offered"] == 1 and run["missing_workers"] == ["w1"]
    assert_verified_and_reported(verdict_processes, tmp_path / "run")


def test_a_worker_asked_to_finish_stops_its_users_then_sends_its_last_batch(
    tmp_path: Path,
) -> None:
    runner, collector = worker_collector(tmp_path, 1)
    fire(collector.capture, response(200, mattermost(9)))
    runner.custom_messages[FINISH][0](environment=collector.env, msg=None)
    assert runner.stops == 1
    ((kind, data),) = runner.sent
    assert kind == MESSAGE and data["final"] and data["rows"] == 1


def test_relogins_are_capped_per_account(monkeypatch: Any) -> None:
    from mmload.harness.accounts import Account

    tokens = Tokens(max_relogins=2)
    logins: list[str] = []

    def login(account: Account) -> str:
        logins.append(account.login_id)
        return f"token{len(logins)}"

    alice = Account("alice", "pw")
    assert tokens.get(alice, login) == "token1"
    assert tokens.get(alice, login) == "token1"  # shared: no second login
    assert tokens.get(alice, login, stale="token1") == "token2"
    assert tokens.get(alice, login, stale="token1") == "token2"  # another user's stale report
    assert tokens.get(alice, login, stale="token2") == "token3"
    with pytest.raises(LoginFailed, match="at most 2 re-logins per account"):
        tokens.get(alice, login, stale="token3")
    assert logins == ["alice"] * 3
    assert "pw" not in str(logins)


def test_a_second_quitting_waits_for_the_first_and_writes_nothing_twice(tmp_path: Path) -> None:
    """On SIGTERM Locust fires quitting from its signal handler, then again from its main
    greenlet; the first may be waiting for the verdict.  The second waits for the first to
    finish, which ends without an exception, the run finished and its verdict written."""
    env = environment(tmp_path)
    env.create_local_runner()
    collector = register(env, "hammer")
    fire(collector.capture, response(200, mattermost(5)), sent=3000.0)
    first = gevent.spawn(env.events.quitting.fire, environment=env)
    gevent.sleep(0)  # the first is under way (its verdict runs in a process of its own)
    env.events.quitting.fire(environment=env)  # returns once the first has finished
    assert first.dead and first.exception is None
    assert read_run(tmp_path / "run")["status"] == "finished"
    assert (tmp_path / "run" / "verdict.json").exists()


def test_the_report_is_named_as_mmload_report_names_it() -> None:
    from mmload.harness.runfolder import REPORT_HTML
    from mmload.report import REPORT_HTML as WRITTEN

    assert REPORT_HTML == WRITTEN


def test_a_new_test_learns_afresh_who_sent_a_last_batch_and_a_lost_worker_stays_said(
    tmp_path: Path,
) -> None:
    from locust.runners import STATE_MISSING

    from mmload.harness.workers import WorkerWatch

    runner = FakeMaster(environment(tmp_path), ["w0", "w1", "w2"])
    runner.clients["w1"].state = STATE_MISSING
    watch = WorkerWatch(clock=lambda: 100.0)
    watch.heard("w0")
    watch.finished.add("w0")
    watch.noted |= {"w1", "w2"}  # the first test: w1 was lost, w2 silent at its end
    watch.next_test(runner)
    assert watch.silent(["w0", "w2"]) == ["w0", "w2"]  # the new test's last batches to come
    assert watch.newly_lost(runner) == []  # w1, still missing, is not lost again


def test_each_test_of_a_process_has_a_run_folder_and_an_exit_code_of_its_own(
    tmp_path: Path,
) -> None:
    """A test started again (from the web UI) writes into a folder of its own beside the first,
    ``--run-dir DIR-2`` (``DIR-3`` when that one is taken); each is finished when its test
    stops, and the second's exit code owes nothing to the first's (which sent nothing)."""
    from mmload.harness.runfolder import NOT_RUN
    from mmload.harness.webui import tests_view

    (tmp_path / "run-2").mkdir()  # taken: the second test goes to run-3
    env = environment(tmp_path)
    env.create_local_runner()
    collector = master_collector(env)
    env.events.test_start.fire(environment=env)
    env.events.test_stop.fire(environment=env)  # nothing was sent: the run could not be done
    first = collector.folder
    assert first.path == tmp_path / "run" and first.result is not None
    assert (first.result.outcome, first.result.code) == (NOT_RUN, 3) and env.process_exit_code == 3
    env.events.test_start.fire(environment=env)
    second = collector.folder
    assert second.path == tmp_path / "run-3" and second.number == 2
    assert [t["status"] for t in tests_view(collector.tests)] == ["running", "done"]
    for k in range(30):
        fire(collector.capture, response(200, mattermost(90 - k)), sent=4000 + k / 10)
    env.events.test_stop.fire(environment=env)
    assert second.result is not None and second.result.code != 3  # the verdict's: 0 or 4
    assert env.process_exit_code == second.result.code
    assert read_run(first.path)["totals"]["offered"] == 0
    assert read_run(second.path)["totals"]["offered"] == len(list(read_records(second.path))) == 30
    collector.finish()  # quitting: both tests are done, no third folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-2", "run-3"]
    last, earlier = tests_view(collector.tests)
    assert (last["test"], last["report"]) == (2, "./mmload/tests/2/report.html")
    assert (earlier["outcome"], earlier["report"]) == (NOT_RUN, None)  # no records: no report


def test_a_late_batch_is_said_only_when_it_held_something(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once a test's run folder is complete, a worker's late batch is left out: said when it
    held records or counts, silent when it was empty (a worker's last, empty batch at exit)."""
    collector = master_collector(environment(tmp_path))
    collector.folder.closed = True
    empty = {"rows": 0, "counters": {}, "frame": b"", "tally": {}, "seconds": []}
    with caplog.at_level(logging.WARNING, logger="mmload"):
        collector.absorb(empty, "w1")
        assert "came after" not in caplog.text
        collector.absorb({**empty, "rows": 3}, "w1")
    assert "a batch of 3 record(s) from worker w1 came after" in caplog.text
