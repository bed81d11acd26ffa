"""``mmload locustfile NAME``: where a scenario's locustfile is, for ``locust -f`` (it ships
inside the package, so this works after any kind of install)."""

from __future__ import annotations

import argparse
from typing import TextIO

from mmload.exitcodes import ExitStatus
from mmload.harness.scenarios import NAMES, locustfile


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "locustfile",
        help="print the path of a scenario's locustfile, for locust -f",
        description="Print the path of scenario NAME's locustfile, e.g. "
        "locust -f $(mmload locustfile hammer) --host URL --accounts FILE ...",
    )
    p.add_argument("name", metavar="NAME", choices=NAMES, help=", ".join(NAMES))
    p.set_defaults(command=show)


def show(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    print(locustfile(args.name), file=out)
    return ExitStatus.OK
