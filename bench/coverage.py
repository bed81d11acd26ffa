"""How often the verdict's rate interval holds the true rate: hundreds of synthesized hammer
runs on GCRA and each window algorithm, from 1/min to 1000/s, behind random latency, open or
closed loop, starting at a random phase.  Prints the share covered and every miss.

    .venv/bin/python bench/coverage.py [RUNS]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmload.verdict import verify
from tests.synth import write_folder
from tests.worlds import random_plan


def main(runs: int) -> None:
    rng = random.Random(20261204)
    covered = measured = 0
    misses = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            plan = random_plan(rng, i)
            v = verify(write_folder(Path(tmp) / f"run{i}", plan))
            m, true = v.measured, plan.true_rate()
            if m.rate_low is None or true is None:
                continue
            measured += 1
            high = m.rate_high if m.rate_high is not None else float("inf")
            if m.rate_low * 0.999 <= true <= high * 1.001:
                covered += 1
            else:
                shown = f"{m.rate_low}..{m.rate_high}, true {true:.4g} ({m.algorithm})"
                misses.append(f"{plan.algorithm} {plan.per_sec:.4g}/s burst {plan.burst}: {shown}")
    print(f"{covered} of {measured} measured runs covered the true rate "
          f"({covered / max(measured, 1):.1%}); {runs - measured} of {runs} measured none; "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    for miss in misses:
        print("  missed:", miss)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 240)
