"""The ``mmload`` command: parses arguments and calls the library; nothing else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from mmload import __version__
from mmload.cli import compare, export, locustfile, report, run, serve, verify
from mmload.exitcodes import ExitStatus


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mmload", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mmload {__version__}")
    sub = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command_name", parser_class=_Parser
    )
    serve.add_parser(sub)
    run.add_parser(sub)
    verify.add_parser(sub)
    report.add_parser(sub)
    compare.add_parser(sub)
    export.add_parser(sub)
    locustfile.add_parser(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.extra = argv[split + 1 :]
    if not hasattr(args, "command"):
        parser.print_help(out)
        return ExitStatus.USAGE
    if args.extra and not getattr(args, "passes_on", False):  # only run passes them (to Locust)
        print(
            f"mmload {args.command_name}: takes no arguments after --: {' '.join(args.extra)}",
            file=err,
        )
        return ExitStatus.USAGE
    try:
        return int(args.command(args, out, err))
    except KeyboardInterrupt:
        print("mmload: interrupted", file=err)
        return ExitStatus.INTERRUPTED
