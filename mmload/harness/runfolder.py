"""The run folder of the master (or of a single process): its records and timeline, run.json with
the run's totals, and at the end ``mmload verify`` and ``mmload report`` on it, each a process of
its own.  Whether the run failed or is impaired, and its exit code, come from
:mod:`mmload.harness.diagnosis`.

A folder holds one test (from Locust's test start to its test stop).  A process that runs several
(started again from the web UI) gives each test after the first a folder of its own beside the
first (:meth:`RunFolder.successor`), with its own verdict and report."""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import locust
from locust.env import Environment

import mmload
from mmload.exitcodes import ExitStatus
from mmload.harness.diagnosis import Diagnosis, diagnose, with_verdict
from mmload.harness.pacing import step_length
from mmload.options import Settings, status_list
from mmload.results import utc
from mmload.results.folder import RUN_JSON, new_run_dir, write_json, write_keys
from mmload.results.outages import Outage, find_outages
from mmload.results.records_file import RECORDS_BIN, RecordsWriter
from mmload.results.samples import Samples, merge
from mmload.results.tally import Tally
from mmload.results.timeline import Second
from mmload.results.timeline_file import TimelineWriter, read_timeline
from mmload.verdict import schema

VERDICT_TIMEOUT = 600.0  # seconds; 2,000,000 records take about 3
# what `mmload report` writes (mmload.report.REPORT_HTML, not imported here: it loads matplotlib)
REPORT_HTML = "report.html"
NOT_RUN = "not run"  # the outcome of a test that could not be done (no verdict)
NO_VERDICT = "no verdict"  # the outcome of a test whose verdict could not be computed


@dataclass(frozen=True)
class Result:
    """How a test ended, for the web UI: its exit code, the verdict's outcome and one-line
    summary (or why it could not be done), and whether its folder has a report."""

    code: int
    outcome: str  # pass, fail, inconclusive (the verdict's), NOT_RUN or NO_VERDICT
    summary: str
    impaired: str = ""  # why the run is incomplete, or ""
    report: bool = False


class RunFolder:
    def __init__(
        self,
        environment: Environment,
        settings: Settings,
        scenario: str,
        path: Path | None = None,
        number: int = 1,
    ) -> None:
        self.env = environment
        self.settings = settings
        self.scenario = scenario
        self.number = number  # the how-manieth test of this process it holds
        self.started = utc.now()
        given = Path(settings.run_dir) if settings.run_dir else None
        self.path = path or given or new_run_dir(settings.out, scenario, self.started)
        self.path.mkdir(parents=True, exist_ok=True)
        self.records = RecordsWriter(self.path / RECORDS_BIN, settings.max_records)
        self.timeline = TimelineWriter(self.path)
        self.tally = Tally(settings.limited_status)
        self.counters: dict[str, int] = {}
        self.missing_workers: list[str] = []
        self.notes: list[str] = []  # what a reader of the run should know, in sentences
        self.server_version_id = ""  # what the target says it is (Mattermost's X-Version-Id)
        self.samples: Samples = {}  # the shapes of error bodies, per status
        self.exit: dict[str, Any] = {}
        self.load_started: float | None = None  # UNIX time the load phase starts: pacing's origin
        self.begun = False  # its test has started
        self.closed = False  # its records and timeline are complete: nothing more is added
        self.result: Result | None = None  # once its run.json, verdict and report are written
        write_json(self.path / RUN_JSON, self.describe("running"))

    def successor(self) -> RunFolder:
        """The folder of the next test this process runs: with ``--run-dir DIR``, ``DIR-2``
        (``DIR-3``, ... for the tests after it, or when that one exists); else a new one
        under ``--out``, named by the time it starts."""
        number = self.number + 1
        given = Path(self.settings.run_dir) if self.settings.run_dir else None
        path = None
        if given is not None:
            n = number
            path = given.with_name(f"{given.name}-{n}")
            while path.exists():
                n += 1
                path = given.with_name(f"{given.name}-{n}")
        return RunFolder(self.env, self.settings, self.scenario, path, number)

    def begin(self, load_started: float) -> None:
        """Its test starts now; its load phase (pacing's origin) at ``load_started``."""
        self.begun = True
        self.started = utc.now()
        self.load_started = load_started
        write_json(self.path / RUN_JSON, self.describe("running"))

    @property
    def status(self) -> str:
        """waiting (for its test to start), running, judging (its verdict and report are being
        written) or done."""
        if self.result is not None:
            return "done"
        if self.closed:
            return "judging"
        return "running" if self.begun else "waiting"

    def add(self, frame: bytes, rows: int, tally: Tally, counters: dict[str, int]) -> None:
        if rows:
            self.records.add_frame(frame, rows)
        self.tally.merge(tally)
        for name, n in counters.items():
            self.counters[name] = self.counters.get(name, 0) + n

    def note_server(self, version_id: str, samples: Samples) -> None:
        """What the target said it is, and the shapes of its error bodies."""
        if version_id and not self.server_version_id:
            self.server_version_id = version_id
        merge(self.samples, samples)

    def write(self, closed: list[Second], still_open: list[Second]) -> None:
        self.timeline.write(closed, still_open)
        self.records.flush()
        self.timeline.flush()

    def describe(self, status: str) -> dict[str, Any]:
        options = self.env.parsed_options
        return {
            "status": status,
            "scenario": self.scenario,
            "host": self.env.host,
            "users": getattr(options, "num_users", None),
            "spawn_rate": getattr(options, "spawn_rate", None),
            "run_time": getattr(options, "run_time", None),
            "started_at": utc.iso(self.started),
            "load_started": self.load_started,
            "steps": self.steps(),
            "ended_at": utc.iso(utc.now()) if status != "running" else None,
            "settings": self.settings.public(),
            "versions": {
                "mmload": mmload.__version__,
                "locust": locust.__version__,
                "python": platform.python_version(),
            },
            "totals": self.tally.totals(),
            "logins": {**self.tally.logins(), "relogins": self.counters.get("relogins", 0)},
            "endpoints": {
                e: {str(s): n for s, n in sorted(st.items())}
                for e, st in sorted(self.tally.by_endpoint.items())
            },
            "keys": len(self.tally.by_key),
            "records": {
                "written": self.records.written,
                "dropped": self.records.dropped,
                "max": self.settings.max_records or None,
                "bytes": self.records.bytes,
                "stopped": self.records.stopped or None,
            },
            "missing_workers": self.missing_workers,
            "notes": self.notes,
            "server_version_id": self.server_version_id or None,
            "error_bodies": self.samples,
            "exit": self.exit,
        }

    def steps(self) -> dict[str, Any] | None:
        """The steps a stepped scenario (ramp, probe) takes, so that a report can tell them
        apart: when they start, how long each is, the factors of the documented rate."""
        stepped = [c for c in self.env.user_classes if getattr(c, "factors", None)]
        if not stepped or self.load_started is None:
            return None
        factors = list(getattr(stepped[0], "factors", ()))
        lead = float(getattr(stepped[0], "lead", 0.0))
        run_time = getattr(self.env.parsed_options, "run_time", None)
        seconds = step_length(self.settings.step_time, run_time, lead, len(factors))
        return {"start": self.load_started + lead, "seconds": seconds, "factors": factors}

    def outages(self) -> list[Outage]:
        """The outages of the timeline written so far ([] if it cannot be read)."""
        try:
            return find_outages(read_timeline(self.path))
        except (OSError, ValueError):
            return []

    def close(self) -> None:
        """Its records and timeline are complete."""
        if not self.closed:
            self.closed = True
            self.records.close()
            self.timeline.close()

    def finish(self) -> None:
        """run.json with the totals, keys.csv, the verdict and the report; the exit code of its
        test becomes the process's (the last test's, when it runs several)."""
        self.close()
        found = diagnose(
            self.tally, self.counters, self.notes, self.missing_workers, self.outages()
        )
        reason, impaired = found.failure, found.impairment
        code = int(found.status) if found.status is not None else None
        self.notes = found.notes
        self.exit = {"code": code, "reason": found.reason}
        if code is not None:
            self.env.process_exit_code = code
        write_json(self.path / RUN_JSON, self.describe("failed" if reason else "finished"))
        write_keys(self.path, self.tally.by_key)
        relogins = self.counters.get("relogins", 0)
        if relogins:
            print(
                f"mmload: {relogins} re-login(s) after a token was rejected (401)", file=sys.stderr
            )
        if reason:
            print(f"mmload: the run could not be done: {reason}", file=sys.stderr)
        else:
            if impaired:
                print(f"mmload: the run was impaired: {impaired}", file=sys.stderr)
            code = self.env.process_exit_code = self._judge(code)
        if self.records.written:
            self._report()
        self.result = self._result(int(code if code is not None else ExitStatus.RUN_FAILED), found)
        self.env.process_exit_code = self.result.code
        print(f"mmload: run folder {self.path}", file=sys.stderr, flush=True)

    def _result(self, code: int, found: Diagnosis) -> Result:
        report = (self.path / REPORT_HTML).is_file()
        if found.failure:
            return Result(code, NOT_RUN, f"the run could not be done: {found.failure}", "", report)
        verdict = schema.read(self.path)
        if verdict is None:
            why = "the verdict could not be computed (mmload verify said why, in the log)"
            return Result(code, NO_VERDICT, why, found.impairment, report)
        return Result(code, verdict.outcome, verdict.summary, found.impairment, report)

    def _report(self) -> None:
        """Figures and report.html, in a process of their own (``mmload report``), also when
        the run failed: the report shows what happened.  A report that fails is said, and
        changes no exit code: the run and its verdict stand."""
        cmd = [sys.executable, "-m", "mmload", "report", str(self.path)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=VERDICT_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            done = subprocess.CompletedProcess(cmd, int(ExitStatus.RUN_FAILED), "", str(exc))
        print((done.stdout + done.stderr).rstrip(), file=sys.stderr)

    def _judge(self, code: int | None) -> int:
        """The verdict, from the folder just written: ``mmload verify`` in a process of its own,
        so that the load process never holds every record in memory, and a verdict that fails
        cannot take the run with it.  Its files go beside the records; the exit code, from the
        run's ``code``: a nonconforming server makes it 1, a run that could not decide 4."""
        s = self.settings
        cmd = [
            sys.executable,
            "-m",
            "mmload",
            "verify",
            str(self.path),
            "--tolerance",
            f"{s.tolerance:g}",
            "--limited-status",
            status_list(s.limited_status),
        ]
        cmd += ["--strict"] if s.strict else []
        cmd += ["--expect", s.expect] if s.expect else []
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=VERDICT_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as exc:
            done = subprocess.CompletedProcess(cmd, int(ExitStatus.RUN_FAILED), "", str(exc))
        print((done.stdout + done.stderr).rstrip(), file=sys.stderr)
        judged, said = with_verdict(code, done.returncode)
        if said:
            print(f"mmload: {said}", file=sys.stderr)
        return judged
