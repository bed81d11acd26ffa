"""``mmload report``: figures and an HTML page of a run folder, from disk."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from mmload.exitcodes import ExitStatus


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="plots and an HTML report of a run folder",
        description="Write throughput.png (offered, accepted and limited per second against the "
        "documented limit), offered-vs-accepted.png, headers.png, latency.png and a "
        "self-contained report.html into RUN_DIR, from its files alone.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(command=report)


def report(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload.report import write_report
    from mmload.results.folder import NotARunFolder

    folder = Path(args.run_dir)
    try:
        written = write_report(folder)
    except NotARunFolder as exc:
        print(f"mmload report: {exc}", file=err)
        return ExitStatus.USAGE
    except OSError as exc:
        print(f"mmload report: cannot read or write {folder}: {exc}", file=err)
        return ExitStatus.RUN_FAILED
    except Exception as exc:  # a bug of mmload's, on a folder it did not expect: say which
        print(f"mmload report: could not report {folder}: {type(exc).__name__}: {exc}", file=err)
        return ExitStatus.RUN_FAILED
    print(f"mmload report: {written[-1]}", file=out, flush=True)
    return ExitStatus.OK
