"""The master's (or single process's) side of a run: the run folder, totals, progress, exit code."""

from __future__ import annotations

import csv
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import locust
from locust.env import Environment

import mmload
from mmload.exitcodes import ExitStatus
from mmload.harness.options import Settings
from mmload.results.record import Record
from mmload.results.runfolder import RUN_JSON, RunWriter, new_run_dir, write_json
from mmload.results.tally import OUTCOMES, Tally
from mmload.results.timeline import Second


def _utc(ts: datetime) -> str:
    return ts.isoformat(timespec="seconds").replace("+00:00", "Z")


class RunSummary:
    def __init__(self, environment: Environment, settings: Settings, scenario: str) -> None:
        self.env = environment
        self.settings = settings
        self.scenario = scenario
        self.started = datetime.now(timezone.utc)
        path = Path(settings.run_dir) if settings.run_dir else None
        self.path = path or new_run_dir(settings.out, scenario, self.started)
        self.writer = RunWriter(self.path, settings.max_records)
        self.tally = Tally()
        self.exit: dict[str, Any] = {}
        self.load_started: float | None = None  # UNIX time of Locust's test_start: pacing's origin
        write_json(self.path / RUN_JSON, self.describe("running"))

    def add_records(self, records: list[Record]) -> None:
        self.writer.add_records(records)

    def write(self, closed: list[Second], still_open: list[Second]) -> None:
        self.writer.write_timeline(closed, still_open)
        self.writer.flush()

    def describe(self, status: str) -> dict[str, Any]:
        options = self.env.parsed_options
        ok, attempted = self.tally.logins()
        return {
            "status": status,
            "scenario": self.scenario,
            "host": self.env.host,
            "users": getattr(options, "num_users", None),
            "spawn_rate": getattr(options, "spawn_rate", None),
            "run_time": getattr(options, "run_time", None),
            "started_at": _utc(self.started),
            "load_started": self.load_started,
            "ended_at": _utc(datetime.now(timezone.utc)) if status != "running" else None,
            "settings": self.settings.public(),
            "versions": {
                "mmload": mmload.__version__,
                "locust": locust.__version__,
                "python": platform.python_version(),
            },
            "totals": self.tally.totals(),
            "logins": {"succeeded": ok, "attempted": attempted},
            "endpoints": {
                e: {str(s): n for s, n in sorted(st.items())}
                for e, st in sorted(self.tally.by_endpoint.items())
            },
            "keys": len(self.tally.by_key),
            "records": {
                "written": self.writer.records_written,
                "dropped": self.writer.records_dropped,
                "max": self.settings.max_records,
            },
            "exit": self.exit,
        }

    def progress_line(self, seconds: list[Second], now: float) -> str:
        """Rates over the last few complete seconds."""
        recent = [s for s in seconds if now - 1 - self.settings.progress <= s.second < int(now) - 1]
        if not recent:
            return ""
        n = len(recent)
        lows = [s.remaining_min for s in recent if s.remaining_min is not None]
        highs = [s.remaining_max for s in recent if s.remaining_max is not None]
        remaining = f"{min(lows):g}..{max(highs):g}" if lows and highs else "-"
        elapsed = (datetime.now(timezone.utc) - self.started).total_seconds()
        return (
            f"mmload {elapsed:5.0f}s  offered {sum(s.offered for s in recent) / n:7.1f}/s  "
            f"accepted {sum(s.accepted for s in recent) / n:7.1f}/s  "
            f"429 {sum(s.limited for s in recent) / n:7.1f}/s  "
            f"errors {sum(s.errors for s in recent) / n:5.1f}/s  Remaining {remaining}"
        )

    def finish(self) -> None:
        self.writer.close()
        totals = self.tally.totals()
        ok, attempted = self.tally.logins()
        reason = ""
        if totals["offered"] == 0:
            reason = "no request was sent"
        elif attempted and not ok:
            reason = f"every login failed ({attempted} attempts)"
        elif totals["accepted"] == 0 and totals["limited"] == 0:
            reason = "the target never answered a request successfully"
        code = ExitStatus.RUN_FAILED if reason else None
        self.exit = {"code": int(code) if code is not None else None, "reason": reason}
        if code is not None:
            self.env.process_exit_code = int(code)
        write_json(self.path / RUN_JSON, self.describe("failed" if reason else "finished"))
        self._write_keys()
        if reason:
            print(f"mmload: the run could not be done: {reason}", file=sys.stderr)
        print(f"mmload: run folder {self.path}", file=sys.stderr, flush=True)

    def _write_keys(self) -> None:
        with open(self.path / "keys.csv", "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(("key", *OUTCOMES))
            for key, counts in sorted(self.tally.by_key.items()):
                out.writerow((key, *(counts.get(o, 0) for o in OUTCOMES)))
