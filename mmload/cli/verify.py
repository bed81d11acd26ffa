"""``mmload verify``: the verdict of a run folder, computed again from disk."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TextIO

from mmload import defaults
from mmload.exitcodes import ExitStatus
from mmload.limiter.rate import is_route_limit
from mmload.options import (
    documented_refusal,
    documented_text,
    fraction,
    limited_statuses,
    non_negative,
)
from mmload.results.folder import NotARunFolder, check_run_folder


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="does the server limit the way it says? (from a run folder)",
        description="Compute the verdict of RUN_DIR again from its records: what the server "
        "enforced, against what it advertised and what its documentation says. Writes "
        "verdict.json, verdict.xml (JUnit) and summary.md into the folder. Exit 0 when it "
        "conforms, 1 when it does not, 4 when the run could not decide what its scenario sets "
        "out to verify.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--documented-limit",
        type=documented_text,
        action="append",
        default=None,
        help="the documented rate, e.g. 10/s (default: what the run was told); again for a "
        "route with a limit of its own: 'POST /api/v4/users/login=10/min' (routes given replace "
        "the run's)",
    )
    p.add_argument(
        "--documented-burst",
        type=non_negative,
        default=None,
        help="the documented burst (MaxBurst); none when a limit is given alone",
    )
    p.add_argument(
        "--tolerance",
        type=fraction,
        default=defaults.TOLERANCE,
        help="how far the enforced rate and burst may be from the documented ones "
        f"(default {defaults.TOLERANCE:g}: {defaults.TOLERANCE * 100:g}%%)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="warnings fail too (headers that mean something else than documented)",
    )
    p.add_argument(
        "--expect",
        choices=("mattermost", "generic"),
        default="",
        help="hold the headers to Mattermost's API documentation, or to none "
        "(default: Mattermost when the server says it is, X-Version-Id)",
    )
    p.add_argument(
        "--limited-status",
        type=limited_statuses,
        default=None,
        metavar="STATUS[,STATUS]",
        help="the HTTP statuses that are refusals, e.g. 429,503 (default: what the run was "
        "told, else 429)",
    )
    p.set_defaults(command=verify)


def verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload import verdict as verdicts
    from mmload.verdict import output

    folder = Path(args.run_dir)
    try:
        check_run_folder(folder)
    except NotARunFolder as exc:
        print(f"mmload verify: {exc}", file=err)
        return ExitStatus.USAGE
    given = args.documented_limit or []
    refused = documented_refusal(given)
    if refused:
        print(f"mmload verify: {refused}", file=err)
        return ExitStatus.USAGE
    general = next((v for v in given if not is_route_limit(v)), None)
    routes = tuple(v for v in given if is_route_limit(v))
    try:
        found = verdicts.verify(
            folder,
            general,
            args.documented_burst,
            args.tolerance,
            args.strict,
            args.expect,
            limited=_given(args.limited_status),
            routes=routes,
        )
        output.write(folder, found)
    except OSError as exc:
        print(f"mmload verify: cannot read or write {folder}: {exc}", file=err)
        return ExitStatus.RUN_FAILED
    except Exception as exc:  # a bug of mmload's, on a folder it did not expect: say which
        print(f"mmload verify: could not judge {folder}: {type(exc).__name__}: {exc}", file=err)
        return ExitStatus.RUN_FAILED
    print(output.text(found), file=out, flush=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":  # shown on the job's page
        print("\n".join(output.github_annotations(found)), file=out, flush=True)
    if not found.requests:
        return ExitStatus.RUN_FAILED
    return verdict_exit(found.outcome)


def _given(statuses: tuple[int, ...] | None) -> frozenset[int] | None:
    """--limited-status as the verdict takes it; None: what the run was told, else 429."""
    return None if statuses is None else frozenset(statuses)


def verdict_exit(outcome: str) -> ExitStatus:
    """0 pass, 1 fail, 4 inconclusive."""
    from mmload.verdict.schema import FAIL, PASS

    if outcome == PASS:
        return ExitStatus.OK
    return ExitStatus.NONCONFORMANT if outcome == FAIL else ExitStatus.INCONCLUSIVE
