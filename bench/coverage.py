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

from mmload.limiter.rate import Documented
from mmload.verdict import verify
from tests.synth import Plan, write_folder
from tests.synth_world import Leg, Network

ALGORITHMS = ("gcra", "fixed-window", "moving-window", "sliding-window")


def random_plan(rng: random.Random, i: int) -> Plan:
    """A hammer on a random limiter (1/min to 1000/s), behind a random network, starting at a
    random phase, long enough for a few dozen acceptances and small enough to simulate fast."""
    per_sec = 10 ** rng.uniform(-1.78, 3.0)  # 1/min .. 1000/s
    algorithm = rng.choice(ALGORITHMS)
    burst = rng.choice((0, 1, 5, 20, 100)) if algorithm == "gcra" else max(1, round(per_sec))
    burst = min(burst, max(1, round(per_sec * 5)))
    seconds = min(max(40 / per_sec, 5.0), 120.0)
    per_user = min(max(4 * per_sec, 5.0), 3000.0, 12_000 / seconds / 2)
    ms = rng.choice((0.5, 2.0, 20.0))
    network = Network(up=Leg(ms, ms * 4, floor_ms=ms / 4), down=Leg(ms, ms * 4, floor_ms=ms / 4))
    return Plan(
        algorithm=algorithm, per_sec=per_sec, burst=burst, seconds=seconds, users=2,
        per_user=max(per_user, 2 * per_sec), seed=i, start_phase=rng.random(), network=network,
        closed_loop=rng.random() < 0.5,
        documented=Documented(per_sec, burst if algorithm == "gcra" else None),
    )  # fmt: skip


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
