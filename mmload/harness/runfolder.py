"""The run folder of the master (or of a single process): its records and timeline, run.json with
the run's totals, and at the end ``mmload verify`` and ``mmload report`` on it, each a process of
its own.  Whether the run failed or is impaired, and its exit code, come from
:mod:`mmload.harness.diagnosis`."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import locust
from locust.env import Environment

import mmload
from mmload.exitcodes import ExitStatus
from mmload.harness.diagnosis import diagnose, with_verdict
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

VERDICT_TIMEOUT = 600.0  # seconds; 2,000,000 records take about 3


class RunFolder:
    def __init__(self, environment: Environment, settings: Settings, scenario: str) -> None:
        self.env = environment
        self.settings = settings
        self.scenario = scenario
        self.started = utc.now()
        path = Path(settings.run_dir) if settings.run_dir else None
        self.path = path or new_run_dir(settings.out, scenario, self.started)
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
        write_json(self.path / RUN_JSON, self.describe("running"))

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
                "max": self.settings.max_records,
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

    def finish(self) -> None:
        self.records.close()
        self.timeline.close()
        found = diagnose(
            self.tally, self.counters, self.notes, self.missing_workers, self.outages()
        )
        reason, impaired, code = found.failure, found.impairment, found.status
        self.notes = found.notes
        self.exit = {"code": int(code) if code is not None else None, "reason": found.reason}
        if code is not None:
            self.env.process_exit_code = int(code)
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
            self._judge()
        if self.records.written:
            self._report()
        print(f"mmload: run folder {self.path}", file=sys.stderr, flush=True)

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

    def _judge(self) -> None:
        """The verdict, from the folder just written: ``mmload verify`` in a process of its own,
        so that the load process never holds every record in memory, and a verdict that fails
        cannot take the run with it.  Its files go beside the records; a nonconforming server
        makes this process exit 1, a run that could not decide 4."""
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
        code, said = with_verdict(self.env.process_exit_code, done.returncode)
        if said:
            print(f"mmload: {said}", file=sys.stderr)
        self.env.process_exit_code = code
