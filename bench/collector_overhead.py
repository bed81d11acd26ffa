"""What mmload's collector costs: a bare Locust FastHttpUser vs the same user plus the collector.

Both hammer nginx on 127.0.0.1 (a static ~300-byte JSON with X-Ratelimit-* headers, so the
collector parses them), one headless Locust process per run, alternating (ABBA) after a warm-up.
Absolute figures drift +-20% run to run: the result is the median of per-round ratios.  CPU is the
Locust process's user+system time from test_start to test_stop (imports and the final write not
counted).  Peak RSS of a collected run of T and of 10xT seconds shows that memory stays bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import NGINX, BenchError, Processes, positive, run, split_cpus, start_nginx

from mmload.results.folder import read_run
from mmload.results.records_file import read_records

HERE = Path(__file__).resolve().parent
LOCUSTFILES = {kind: HERE / f"locust_{kind}.py" for kind in ("bare", "collected", "alternating")}
INSTALL = "apt-get install nginx-light"
BODY = json.dumps({"id": "u" * 26, "username": "user1", "props": {"x": "y" * 230}})  # ~300 B
HEADERS = {"X-Ratelimit-Limit": "100", "X-Ratelimit-Remaining": "99", "X-Ratelimit-Reset": "1"}


@dataclass
class Run:
    rate: float  # requests/s in the load phase
    us_per_request: float  # CPU (user + system) of the Locust process in the load phase
    maxrss_kb: int  # peak resident memory of the Locust process up to the end of its load


class Bench:
    def __init__(self, args: argparse.Namespace, procs: Processes) -> None:
        self.args, self.procs, self.tmp = args, procs, procs.tmp
        self.load_cpus, target_cpus = split_cpus() if args.pin else (None, None)
        self.url = start_nginx(procs, "/x.json", BODY.encode(), HEADERS, cpus=target_cpus)

    def locust(self, kind: str, seconds: float) -> Run:
        """One headless Locust process; its rusage comes from wait4, the load phase from a file."""
        data, maxrss = self.launch(kind, seconds)
        if data["failures"] or not data["requests"]:
            raise BenchError(f"locust ({kind}): {data}")
        if kind == "collected":
            check_run_folder(self.tmp / "runs", data["requests"])
        us = data["cpu"] / data["requests"] * 1e6
        return Run(data["requests"] / data["seconds"], us, data.get("maxrss_kb", maxrss))

    def launch(self, kind: str, seconds: float) -> tuple[Any, int]:
        """Run Locust with ``kind``'s locustfile; (what it wrote to BENCH_RESULT, peak RSS kB)."""
        result, out = self.tmp / "result.json", self.tmp / "runs"
        result.unlink(missing_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        users, file = str(self.args.users), str(LOCUSTFILES[kind])
        cmd = [sys.executable, "-m", "locust", "-f", file, "--headless", "--only-summary"]
        cmd += ["-u", users, "-r", users, "-t", f"{seconds:g}s", "--host", self.url]
        if kind != "bare":
            cmd += ["--out", str(out), "--progress", "0"]
        env = {**os.environ, "BENCH_RESULT": str(result)}
        proc, log = self.procs.start(kind, cmd, env, cpus=self.load_cpus)
        deadline = time.monotonic() + seconds + 60
        while (reaped := os.wait4(proc.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                raise BenchError(f"locust ({kind}) still running {seconds + 60:g} s later")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(reaped[1])
        # with the collector, the run ends with a verdict, and nginx limits nothing: exit 1
        allowed = (0,) if kind == "bare" else (0, 1)
        if proc.returncode not in allowed or not result.exists():
            raise BenchError(f"locust ({kind}) exited {proc.returncode}:\n{log.read_text()}")
        return json.loads(result.read_text()), reaped[2].ru_maxrss


def check_run_folder(out: Path, requests: int) -> None:
    """The collector saw every request and really parsed the headers."""
    folder = next(out.iterdir())
    offered = read_run(folder)["totals"]["offered"]
    first = next(read_records(folder), None)
    if offered != requests or first is None or (first.limit, first.remaining) != (100, 99):
        raise BenchError(f"run folder {folder}: offered {offered} != {requests} or {first}")


def show(name: str, run: Run) -> str:
    return f"{name} {run.rate:6,.0f} req/s {run.us_per_request:5.1f} µs CPU/req"


def compare(bench: Bench, args: argparse.Namespace) -> float:
    kinds = ("bare", "collected")
    for kind in kinds:
        bench.locust(kind, args.warmup)
    runs: dict[str, list[Run]] = {kind: [] for kind in kinds}
    for n in range(1, args.rounds + 1):
        for kind in kinds if n % 2 else kinds[::-1]:  # ABBA: a linear drift hits both alike
            runs[kind].append(bench.locust(kind, args.duration))
        a, b = runs["bare"][-1], runs["collected"][-1]
        print(f"round {n}: {show('bare', a)}   {show('collected', b)}   B/A {b.rate / a.rate:.3f}")
    return summarize(runs)


def summarize(runs: dict[str, list[Run]]) -> float:
    """Medians and spreads.  The result is the median of the per-round B/A ratios: A and B of
    one round run back to back, so the host's slow swings (seen here: the same work at 250 to
    490 µs CPU a request from one minute to the next) cancel out within a pair."""
    rate = {k: statistics.median(r.rate for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r.us_per_request for r in v) for k, v in runs.items()}
    for kind, kind_runs in runs.items():
        low, high = min(r.rate for r in kind_runs), max(r.rate for r in kind_runs)
        spread = f"req/s {low:,.0f}..{high:,.0f}, {(high - low) / rate[kind]:.0%}"
        print(f"median {kind:9} {rate[kind]:6,.0f} req/s {cpu[kind]:5.1f} µs CPU/req ({spread})")
    pairs = list(zip(runs["bare"], runs["collected"], strict=True))
    paired = sorted(b.rate / a.rate for a, b in pairs)
    extra = statistics.median(b.us_per_request - a.us_per_request for a, b in pairs)
    print(
        f"per-round B/A {paired[0]:.3f}..{paired[-1]:.3f}; "
        f"collector CPU {extra:+.1f} µs/req (median of per-round differences)"
    )
    print(f"ratio of median rates {rate['collected'] / rate['bare']:.3f}")
    return statistics.median(paired)


def alternating(bench: Bench, args: argparse.Namespace) -> None:
    """One process, the collector on and off in alternate slices (locust_alternating.py): the
    finest measure, as everything but the collector is shared by both kinds of slice."""
    os.environ["BENCH_SLICE"] = str(args.slice)
    slices, _ = bench.launch("alternating", args.alternate)
    pairs = [slices[k : k + 2] for k in range(0, len(slices) - 1, 2)]
    extra, ratios = [], []
    for pair in pairs:
        on = next(s for s in pair if s[0])
        off = next(s for s in pair if not s[0])
        if not (on[2] and off[2]):
            raise BenchError(f"a slice without requests: {pair}")
        extra.append(on[1] / on[2] * 1e6 - off[1] / off[2] * 1e6)
        ratios.append((on[2] / on[3]) / (off[2] / off[3]))
    print(
        f"alternating {args.slice:g} s slices in one process ({len(pairs)} on/off pairs): "
        f"collector {statistics.median(extra):+.1f} µs CPU/req, "
        f"on/off rate ratio {statistics.median(ratios):.3f} (medians of pairs)"
    )


def memory(bench: Bench, args: argparse.Namespace) -> None:
    """Records go to disk every second: a 10x longer run should not need much more memory."""
    peak = {}
    for secs in (args.short, args.long):
        run = bench.locust("collected", secs)
        peak[secs] = run.maxrss_kb / 1024
        print(f"memory: collected {secs:4g} s  {show('', run)}  peak RSS {peak[secs]:.1f} MB")
    print(f"memory long/short peak RSS ratio={peak[args.long] / peak[args.short]:.3f}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=positive, default=10, help="A/B rounds (default 10)")
    p.add_argument("--duration", type=float, default=4, help="seconds per run (default 4)")
    p.add_argument("--warmup", type=float, default=2, help="warm-up seconds each (default 2)")
    p.add_argument("--users", type=int, default=50, help="Locust users (default 50)")
    p.add_argument(
        "--pin",
        action="store_true",
        help="pin Locust and nginx to a CPU each (on this kind of host, slower and "
        "noisier than letting the scheduler place them)",
    )
    p.add_argument(
        "--alternate",
        type=float,
        default=40,
        help="seconds of the one-process alternating run (default 40)",
    )
    p.add_argument("--slice", type=float, default=1, help="its slices, seconds (default 1)")
    p.add_argument("--short", type=float, default=6, help="memory: short run seconds (6)")
    p.add_argument("--long", type=float, default=60, help="memory: long run seconds (60)")
    p.add_argument("--quick", action="store_true", help="2 rounds x 3 s; memory 3 s vs 30 s")
    args = p.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup, args.short, args.long = 2, 3, 1, 3, 30
        args.alternate = 12
    return args


def measure(args: argparse.Namespace, procs: Processes) -> str:
    print(
        f"bench: {os.cpu_count()} CPUs{' (Locust and nginx pinned)' if args.pin else ''}, "
        f"{args.users} FastHttpUsers, 1 Locust process -> nginx, "
        f"{args.rounds} rounds x {args.duration:g} s after {args.warmup:g} s warm-ups"
    )
    bench = Bench(args, procs)
    ratio = compare(bench, args)
    alternating(bench, args)
    memory(bench, args)
    return f"collector/bare ratio={ratio:.3f}  (goal 0.97, at least 0.95)"


def main() -> int:
    args = parse_args()
    return run(lambda procs: measure(args, procs), needs=[NGINX], install=INSTALL)


if __name__ == "__main__":
    sys.exit(main())
