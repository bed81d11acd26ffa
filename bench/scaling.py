"""How the load scales with Locust processes: requests/s of the hammer (a FastHttpUser plus
mmload's collector) from 1 Locust process and from ``--processes 2``, against nginx on
127.0.0.1, and their ratio.

Each run is one headless Locust; its rate is read from its run folder (the collector counts
every request): the mean offered requests/s over its whole seconds, the first ones (spawning,
warming up) and the last (cut short) left out.  Runs alternate (ABBA) and the result is the
median of the per-round ratios, as absolute figures drift +-20% on a shared host.  Locust's
own figure for two cores is about 1.4x: two processes share the cores with nginx, the master
and whatever else runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from collector_overhead import BODY, HEADERS, INSTALL, LOCUSTFILES
from common import NGINX, BenchError, Processes, positive, run, start_nginx

from mmload.results.folder import read_run
from mmload.results.timeline_file import read_timeline

SKIP_SECONDS = 2  # at the start of each run: users spawning, connections opening


class Scaling:
    def __init__(self, args: argparse.Namespace, procs: Processes) -> None:
        self.args, self.procs = args, procs
        self.url = start_nginx(procs, "/x.json", BODY.encode(), HEADERS)

    def rate(self, processes: int) -> float:
        """Requests/s of one run with this many Locust processes (1: a plain one)."""
        out = self.procs.tmp / "runs"
        shutil.rmtree(out, ignore_errors=True)
        users, seconds = str(self.args.users), self.args.duration
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILES["collected"]),
            "--headless",
            "--only-summary",
            "-u",
            users,
            "-r",
            users,
            "-t",
            f"{seconds:g}s",
            "--host",
            self.url,
            "--out",
            str(out),
            "--progress",
            "0",
        ]
        if processes > 1:
            cmd += ["--processes", str(processes)]
        proc, log = self.procs.start(f"locust-{processes}", cmd)
        code = proc.wait(timeout=seconds + 90)  # TimeoutExpired: the bench fails, stops it
        # the run ends with a verdict, and nginx limits nothing: exit 1
        if code not in (0, 1):
            raise BenchError(f"locust ({processes} processes) exited {code}:\n{log.read_text()}")
        return folder_rate(next(out.iterdir()))


def folder_rate(folder: Path) -> float:
    """Mean offered requests/s over the run's whole seconds past the first few."""
    rows = read_timeline(folder)[SKIP_SECONDS:-1]
    if len(rows) < 2 or read_run(folder)["missing_workers"]:
        raise BenchError(f"run folder {folder}: too short, or a worker's records are missing")
    return sum(row["offered"] or 0 for row in rows) / len(rows)


def measure(args: argparse.Namespace, procs: Processes) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"bench: {os.cpu_count()} CPUs (load average {load} before the bench: others' work "
        f"counts too), {args.users} FastHttpUsers + collector -> nginx, "
        f"{args.rounds} rounds x {args.duration:g} s"
    )
    bench = Scaling(args, procs)
    bench.rate(1)  # warm-up: page cache, nginx, Python's bytecode
    ratios: list[float] = []
    rates: dict[int, list[float]] = {1: [], 2: []}
    started = time.monotonic()
    for n in range(1, args.rounds + 1):
        for processes in (1, 2) if n % 2 else (2, 1):  # ABBA: a linear drift hits both alike
            rates[processes].append(bench.rate(processes))
        one, two = rates[1][-1], rates[2][-1]
        ratios.append(two / one)
        print(
            f"round {n}: 1 process {one:7,.0f} req/s   2 processes {two:7,.0f} req/s   "
            f"ratio {two / one:.2f}"
        )
    print(
        f"median 1 process {statistics.median(rates[1]):,.0f} req/s, 2 processes "
        f"{statistics.median(rates[2]):,.0f} req/s; per-round ratios "
        f"{min(ratios):.2f}..{max(ratios):.2f}; {time.monotonic() - started:.0f} s"
    )
    return f"2/1 processes ratio={statistics.median(ratios):.2f}  (Locust itself: about 1.4)"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=positive, default=3, help="ABBA rounds (default 3)")
    p.add_argument("--duration", type=float, default=6, help="seconds per run (default 6)")
    p.add_argument("--users", type=positive, default=50, help="Locust users (default 50)")
    args = p.parse_args()
    # the login second, SKIP_SECONDS and the cut-short last one leave out, and two to average
    if not SKIP_SECONDS + 3 <= args.duration <= 60:
        p.error(f"--duration: {SKIP_SECONDS + 3} to 60 seconds")
    return args


def main() -> int:
    args = parse_args()
    return run(lambda procs: measure(args, procs), needs=[NGINX], install=INSTALL)


if __name__ == "__main__":
    sys.exit(main())
