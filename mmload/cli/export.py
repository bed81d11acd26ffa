"""``mmload export``: a run folder's records as CSV, in the order they were sent."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import TextIO

from mmload.exitcodes import ExitStatus
from mmload.results.folder import NotARunFolder, check_run_folder
from mmload.results.record import FIELDS
from mmload.results.records_file import read_records


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a run folder's records as CSV",
        description="Write every record of RUN_DIR (records.bin) as CSV, one row per request in "
        "the order they were sent, with a header line. Empty cells are absent values.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, e.g. results/<stamp>-hammer")
    p.add_argument("-o", "--output", default="-", help="a file to write (default: stdout)")
    p.set_defaults(command=export)


def export(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    folder = Path(args.run_dir)
    try:
        check_run_folder(folder)
    except NotARunFolder as exc:
        print(f"mmload export: {exc}", file=err)
        return ExitStatus.USAGE
    try:
        if args.output == "-":
            write_csv(folder, out)
        else:
            with open(args.output, "w", newline="") as f:
                write_csv(folder, f)
    except BrokenPipeError:  # `mmload export DIR | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        print(f"mmload export: cannot write {args.output}: {exc.strerror}", file=err)
        return ExitStatus.USAGE
    return ExitStatus.OK


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # 101, not 101.0
    return value


def write_csv(folder: Path, out: TextIO) -> int:
    """Every record as a CSV row; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    n = 0
    for record in read_records(folder):
        writer.writerow([_cell(v) for v in record])
        n += 1
    return n
