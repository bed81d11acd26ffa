"""``mmload compare``: runs side by side, from their folders."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from mmload import defaults
from mmload.exitcodes import ExitStatus
from mmload.options import factor, fraction
from mmload.results import utc
from mmload.results.folder import NotARunFolder


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="overlay and tabulate runs against the first (the base)",
        description="Overlay the throughput and accepted-against-offered of RUN_DIRs (time from "
        "each run's start), tabulate measured rate, burst, 429 share, p95 latency and verdict "
        "with deltas against the first run, and flag changes beyond tolerance. Writes "
        "compare.html, compare.md and the PNGs into --out. Exit 1 when a run fails where the "
        "base passed; a run inconclusive where the base passed is flagged (no longer "
        "verified) but is no regression.",
    )
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+", help="the first is the base")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default: results/compare-<UTC timestamp>)",
    )
    p.add_argument(
        "--tolerance",
        type=fraction,
        default=defaults.TOLERANCE,
        help="flag a rate or burst that moved by more than this share of the base, "
        f"or a 429 share that moved by more than this many points (default {defaults.TOLERANCE:g})",
    )
    p.add_argument(
        "--latency-tolerance",
        type=factor,
        default=0.5,
        help="flag a p95 latency that grew by more than this share (default 0.5)",
    )
    p.set_defaults(command=compare)


def compare(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload.report import compare_page
    from mmload.report.compare import Limits
    from mmload.report.compare import compare as comparing

    if len(args.run_dirs) < 2:
        print("mmload compare: give at least two run folders (the first is the base)", file=err)
        return ExitStatus.USAGE
    target = args.out or Path("results") / f"compare-{utc.stamp()}"
    try:
        found = comparing(
            [Path(d) for d in args.run_dirs], Limits(args.tolerance, args.latency_tolerance)
        )
        written = compare_page.write(found, target)
    except NotARunFolder as exc:
        print(f"mmload compare: {exc}", file=err)
        return ExitStatus.USAGE
    except OSError as exc:
        print(f"mmload compare: cannot read or write: {exc}", file=err)
        return ExitStatus.RUN_FAILED
    print(compare_page.markdown(found), file=out)
    print(f"mmload compare: {written[-1]}", file=out, flush=True)
    if found.regressions:
        return ExitStatus.NONCONFORMANT
    return ExitStatus.OK
