"""How long ``mmload verify`` and ``mmload report`` take on a big run folder, and how much
memory they need.

Builds a folder of N records (default 2,000,000) with the test suite's synthesizer: the reference
server's own GCRA and dialect on a virtual clock, 50 users hammering one bucket per address.
Then runs ``mmload verify``, then ``mmload report`` (which plots what the verdict found), each in
a process of its own on one core, and prints their wall time and peak resident memory against
the targets (verify: 10 s and 1 GB; report: 15 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import positive

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the synthesizer lives with the tests

from tests.support.synth import Plan, write_folder  # noqa: E402

TARGETS = {"verify": (10.0, 1024.0), "report": (15.0, 1024.0)}  # seconds, peak RSS MB


def build(folder: Path, records: int) -> None:
    users, per_user = 50, 400.0
    plan = Plan(users=users, per_user=per_user, seconds=records / (users * per_user))
    started = time.perf_counter()
    write_folder(folder, plan)
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
    with tempfile.TemporaryDirectory(prefix="mmload-bench-verify-") as tmp:
        folder = args.folder or Path(tmp) / "run"
        if not (folder / "records.bin").exists():
            build(folder, args.records)
        ok = True
        for command, (target_s, target_mb) in TARGETS.items():
            seconds, mb, code = timed(command, folder)
            print(
                f"{command}: {args.records:,} records in {seconds:.1f} s (target <= "
                f"{target_s:g} s), peak RSS {mb:,.0f} MB (target <= {target_mb:,.0f} MB), "
                f"exit {code}"
            )
            passed = code == 0 or (command == "verify" and code == 1)
            ok = ok and seconds <= target_s and mb <= target_mb and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
