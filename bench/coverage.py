"""How often the verdict's rate interval holds the true rate: hundreds of synthesized hammer
runs on GCRA and each window algorithm, from 1/min to 1000/s, behind random latency, open or
closed loop, starting at a random phase.  Prints the share covered and every miss.

    .venv/bin/python bench/coverage.py [RUNS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.worlds import coverage


def main(runs: int) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        found = coverage(runs, Path(tmp))
    share = found.covered / max(found.measured, 1)
    print(
        f"{found.covered} of {found.measured} measured runs covered the true rate "
        f"({share:.1%}); {runs - found.measured} of {runs} measured none; "
        f"{time.perf_counter() - started:.0f} s"
    )
    for miss in found.misses:
        print("  missed:", miss)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 240)
