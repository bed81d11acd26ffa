"""How long ``mmload verify`` and ``mmload report`` take on a big run folder, and how much
memory they need.

Builds a folder of N records (default 2,000,000) spanning an hour with the test suite's
synthesizer: the reference server's own GCRA and dialect on a virtual clock, several source
addresses (a bucket each) hammered well above the limit, so a share of every second is refused.
The hour is synthesized in stretches of at most 1,000,000 records, two at a time (one per core),
each appended to ``records.bin`` as the collector would (each stretch after the first starts
with its buckets drained, as the one before left them).
Then runs ``mmload verify``, then ``mmload report``, each in a process of its own on one core, and
prints their wall time and peak resident memory against the targets, the last line being
``verify records=N seconds=S peak_mb=M report_seconds=R report_peak_mb=P``.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import positive

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the synthesizer lives with the tests

from mmload.results.block import Block  # noqa: E402
from mmload.results.folder import RECORDS_BIN, RUN_JSON, write_json, write_keys  # noqa: E402
from mmload.results.records_file import RecordsWriter  # noqa: E402
from mmload.results.tally import Tally  # noqa: E402
from mmload.results.timeline import Timeline  # noqa: E402
from mmload.results.timeline_file import TimelineWriter  # noqa: E402
from tests.support.synth import Plan, run_json, simulate  # noqa: E402

SPAN = 3600.0  # seconds the run lasts, whatever N
STRETCH = 1_000_000  # records synthesized at once (memory: about 1 KB each while synthesized)
KEYS = 8  # source addresses, a bucket each
PER_KEY = 4  # users per address
LOGIN_LEAD = 1.0  # s: the synthesizer's users log in this long before the load (START)
# (records at most, verify seconds, verify MB, report seconds, report MB): the targets
TARGETS = ((2_000_000, 10.0, 1024.0, 15.0, 1024.0), (20_000_000, 40.0, 1024.0, 60.0, 1024.0))


def plan_for(records: int) -> Plan:
    users = KEYS * PER_KEY
    return Plan(users=users, sources=KEYS, per_user=records / (users * SPAN), seconds=SPAN)


def stretch(args: tuple[Plan, int, float]) -> list[tuple[bytes, int]]:
    """One stretch of the hour: its records shifted to where it lies in the run, as frames of
    a second each, as the collector writes them."""
    plan, seed, offset = args
    if offset:  # the hour goes on: every bucket is as drained as the stretch before left it
        plan = replace(plan, prior_requests=plan.burst + 1, prior_gap=-LOGIN_LEAD)
    block = Block.from_records(simulate(replace(plan, seed=seed)))
    if offset:  # its users logged in once, at the start of the hour (in the last stretch's time)
        logins = [i for i, e in enumerate(block.tables["endpoint"]) if e.endswith("/login")]
        block = block.take(~np.isin(block.codes["endpoint"], logins))
    block.numbers["sent"] = block.numbers["sent"] + offset
    for name in ("date", "reset"):  # epochs move with the clock; deltas stay
        column = block.numbers[name]
        block.numbers[name] = column + offset * (column > 1e9)
    return [(part.encode(), len(part)) for part in seconds_of(block)]


def seconds_of(block: Block) -> list[Block]:
    """The block cut into the seconds its requests were answered in, in that order."""
    answered = block.numbers["sent"] + block.numbers["latency_ms"] / 1000.0
    block = block.take(np.argsort(answered, kind="stable"))
    second = np.floor(np.sort(answered))
    cuts = np.flatnonzero(np.diff(second)) + 1
    return [block.take(slice(a, b)) for a, b in zip([0, *cuts], [*cuts, len(block)], strict=True)]


def build(folder: Path, records: int) -> None:
    started = time.perf_counter()
    whole = plan_for(records)
    stretches = max(1, math.ceil(records / STRETCH))
    seconds = SPAN / stretches
    part = replace(whole, seconds=seconds)
    folder.mkdir(parents=True, exist_ok=True)
    writer = RecordsWriter(folder / RECORDS_BIN, max_records=10**12)
    tally, timeline, rows = Tally(), Timeline(), TimelineWriter(folder)
    jobs = [(part, 1000 + i, i * seconds) for i in range(stretches)]
    with multiprocessing.Pool(min(2, stretches)) as pool:
        for frames in pool.imap(stretch, jobs):
            for frame, count in frames:
                writer.add_frame(frame, count)
                block = Block.decode(frame)[0]
                tally.add(block)
                timeline.add(block)
            rows.write(timeline.drain(), [])
            print(f"bench: {writer.written:,} records", end="\r", flush=True)
    writer.close()
    rows.close()
    write_keys(folder, tally.by_key)
    write_json(folder / RUN_JSON, run_json(whole, tally, None))
    print(f"bench: built {folder} ({records:,} requests) in {time.perf_counter() - started:.0f} s")


def timed(command: str, folder: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of `mmload COMMAND FOLDER` on one core."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "mmload", command, str(folder)]
    pin = (
        (lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
        if hasattr(os, "sched_setaffinity")
        else None
    )
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, preexec_fn=pin)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--records", type=positive, default=2_000_000, help="default 2,000,000")
    p.add_argument("--folder", type=Path, help="keep (or reuse) the run folder here")
    args = p.parse_args()
    limits = next((t for t in TARGETS if args.records <= t[0]), TARGETS[-1])
    with tempfile.TemporaryDirectory(prefix="mmload-bench-verify-") as tmp:
        folder = args.folder or Path(tmp) / "run"
        if not (folder / RECORDS_BIN).exists():
            build(folder, args.records)
        found = {}
        for command, target_s, target_mb in (
            ("verify", limits[1], limits[2]),
            ("report", limits[3], limits[4]),
        ):
            seconds, mb, code = timed(command, folder)
            found[command] = (seconds, mb)
            met = seconds <= target_s and mb <= target_mb
            print(
                f"{command}: {args.records:,} records in {seconds:.1f} s (target <= "
                f"{target_s:g} s), peak RSS {mb:,.0f} MB (target <= {target_mb:,.0f} MB), "
                f"exit {code}{'' if met else '  MISSED'}"
            )
    (vs, vm), (rs, rm) = found["verify"], found["report"]
    print(
        f"verify records={args.records} seconds={vs:.1f} peak_mb={vm:.0f} "
        f"report_seconds={rs:.1f} report_peak_mb={rm:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
