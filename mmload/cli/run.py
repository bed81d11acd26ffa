"""``mmload run``: the main job's command line."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import TextIO

from mmload import defaults, options
from mmload.dialects import DIALECTS
from mmload.exitcodes import ExitStatus
from mmload.harness.scenarios import NAMES
from mmload.limiter.faults import FAULTS
from mmload.options import non_negative, positive, run_time, seconds
from mmload.server.limiting import ALGORITHMS

# --server-X of mmload run -> mmload serve's flag, for the embedded reference server
SERVER_FLAGS = {
    "server_per_sec": "--per-sec",
    "server_burst": "--max-burst",
    "server_memory_store_size": "--memory-store-size",
    "server_algorithm": "--algorithm",
    "server_dialect": "--dialect",
}
VARY_BY = ("address", "user", "none")
WEB_LINGER = 10.0  # --web: seconds the UI stays up after the run time, by default


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: drive a scenario with Locust and record every rate-limit header",
        description="Run a Locust scenario against --host (or, without it, against the embedded "
        "reference server) and write a run folder. Arguments after -- go to Locust unchanged.",
    )
    p.add_argument("--host", default="", help="target URL (default: start the reference server)")
    p.add_argument(
        "--scenario",
        choices=NAMES,
        default=None,
        help="default: hammer against the embedded server, probe against --host "
        "(it sends at most about twice what a correct server accepts)",
    )
    p.add_argument("-u", "--users", type=positive, default=10, help="Locust users (default 10)")
    p.add_argument(
        "-t", "--run-time", type=run_time, default="30s", help="e.g. 30s, 5m, 1h20m (default 30s)"
    )
    # the options Locust users see too, defined once; "" or None here means: not given
    options.add_arguments(
        p,
        (*options.SHARED_WITH_RUN, "--hook-id"),
        locust=False,
        defaults={"--api": "", "--accounts": "", "--password": "", "--vary-by": None},
    )
    p.add_argument(
        "--processes",
        type=positive,
        default=0,
        help="Locust worker processes (default: one process)",
    )
    p.add_argument("--web", action="store_true", help="show Locust's web UI instead of headless")
    p.add_argument(
        "--web-host",
        metavar="ADDRESS",
        help="with --web: the address the web UI listens on (default 127.0.0.1, this machine "
        "only; '*' for all interfaces)",
    )
    p.add_argument(
        "--web-linger",
        type=seconds,
        metavar="S",
        help="with --web: seconds the web UI stays up once the run time is over, before the "
        f"run ends with the verdict's exit code (default {WEB_LINGER:g})",
    )
    add_server_arguments(p)
    p.set_defaults(command=run, passes_on=True)  # arguments after -- go to Locust


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "the embedded reference server (without --host)",
        "Configure it unlike the documentation to see mmload catch the difference: a faster "
        "rate, another algorithm, a fault. Defaults are Mattermost's.",
    )
    g.add_argument(
        "--server-per-sec", type=positive, metavar="N", help=f"PerSec (default {defaults.PER_SEC})"
    )
    g.add_argument(
        "--server-burst",
        type=non_negative,
        metavar="N",
        help=f"MaxBurst (default {defaults.MAX_BURST})",
    )
    g.add_argument(
        "--server-memory-store-size",
        type=positive,
        metavar="N",
        help=f"keys its LRU store holds (default {defaults.MEMORY_STORE_SIZE})",
    )
    g.add_argument("--server-algorithm", choices=ALGORITHMS, help=f"default {defaults.ALGORITHM}")
    g.add_argument("--server-dialect", choices=DIALECTS, help=f"default {defaults.DIALECT}")
    g.add_argument(
        "--server-vary-by",
        metavar="address|user|none|header:NAME",
        type=_vary_by,
        help="what it keys its limit on (default address)",
    )
    g.add_argument(
        "--server-fault",
        action="append",
        choices=list(FAULTS),
        metavar="NAME",
        help=f"inject a fault, repeatable: {', '.join(FAULTS)}",
    )
    g.add_argument(
        "--server-trust-forwarded",
        action="store_true",
        help="key on the left-most X-Forwarded-For when sent (not Mattermost's: a bypass)",
    )
    g.add_argument(
        "--server-per-route",
        action="store_true",
        help="a bucket per path as sent (not Mattermost's: another spelling bypasses it)",
    )


def _vary_by(text: str) -> str:
    if text in VARY_BY or (text.startswith("header:") and len(text) > len("header:")):
        return text
    raise argparse.ArgumentTypeError(f"choose address, user, none or header:NAME, not {text!r}")


def server_args(args: argparse.Namespace) -> list[str]:
    """``mmload serve`` arguments for the server options given (none: Mattermost's defaults)."""
    out: list[str] = []
    for dest, flag in SERVER_FLAGS.items():
        value = getattr(args, dest)
        if value is not None:
            out += [flag, str(value)]
    vary = args.server_vary_by
    if vary == "user":
        out.append("--vary-by-user")
    elif vary == "none":
        out.append("--no-vary-by-remote-addr")
    elif vary and vary.startswith("header:"):
        out += ["--vary-by-header", vary.split(":", 1)[1]]
    for fault in args.server_fault or ():
        out += ["--fault", fault]
    if args.server_trust_forwarded:
        out.append("--trust-forwarded")
    if args.server_per_route:
        out.append("--per-route")
    return out


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload.launch.run import RunError, RunOptions, launch

    embedded = server_args(args)
    if args.host and embedded:
        given = sorted({a for a in embedded if a.startswith("--")})
        print(
            f"mmload run: the --server-* options configure the embedded reference server; "
            f"with --host there is none ({', '.join(given)})",
            file=err,
        )
        return ExitStatus.USAGE
    if args.web_linger is not None and not args.web:
        print(
            "mmload run: --web-linger is how long the web UI stays up after the run, and "
            "without --web there is none",
            file=err,
        )
        return ExitStatus.USAGE
    if args.web_host is not None and not args.web:
        print(
            "mmload run: --web-host is where the web UI listens, and without --web there is none",
            file=err,
        )
        return ExitStatus.USAGE
    vary_by = args.vary_by or ("user" if args.server_vary_by == "user" else "address")
    args.scenario = args.scenario or ("probe" if args.host else "hammer")
    values = {f.name: getattr(args, f.name) for f in fields(RunOptions) if hasattr(args, f.name)}
    values["web_host"] = args.web_host or "127.0.0.1"  # this machine only, unless asked
    values["web_linger"] = WEB_LINGER if args.web_linger is None else args.web_linger
    run_options = RunOptions(
        **{**values, "host": args.host.rstrip("/"), "vary_by": vary_by, "server_args": embedded}
    )
    try:
        return launch(run_options, out, err)
    except RunError as exc:
        print(f"mmload run: {exc}", file=err)
        return exc.status
