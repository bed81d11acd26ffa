"""The ``mmload`` command: parses arguments and calls the library; nothing else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from mmload import __version__
from mmload.dialects import DIALECTS
from mmload.exitcodes import ExitStatus
from mmload.harness import options
from mmload.limiter.faults import FAULTS
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.server.limiting import ALGORITHMS, LimitSettings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _password(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty password would let nobody log in")
    return text


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, not {value}")
    return value


def _add_serve(sub: argparse._SubParsersAction) -> None:
    faults = "\n".join(f"  {name:16} {text}" for name, text in FAULTS.items())
    p = sub.add_parser(
        "serve",
        help="run the reference server (Mattermost's API and rate limiter)",
        description="Run a server that answers like Mattermost with rate limiting on. The first "
        "line printed is 'mmload serve: listening on URL'. Stop it with Ctrl-C or SIGTERM.",
        epilog=f"faults (--fault NAME, repeatable):\n{faults}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8065, help="port (default 8065; 0: any free)")
    p.add_argument(
        "--rate-limit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="RateLimitSettings.Enable (default on)",
    )
    p.add_argument("--per-sec", type=_positive, default=10, help="PerSec (default 10)")
    p.add_argument(
        "--max-burst", type=options.non_negative, default=100, help="MaxBurst (default 100)"
    )
    p.add_argument(
        "--memory-store-size",
        type=_positive,
        default=10_000,
        help="MemoryStoreSize: keys the LRU store holds (default 10000)",
    )
    p.add_argument(
        "--vary-by-remote-addr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="VaryByRemoteAddr (default on)",
    )
    p.add_argument(
        "--vary-by-user",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="VaryByUser: one bucket per auth token (default off)",
    )
    p.add_argument(
        "--vary-by-header",
        default="",
        metavar="NAME",
        help="VaryByHeader: append this header's lower-cased value to the key",
    )
    p.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="gcra",
        help="gcra is Mattermost's; the window algorithms come from the limits library",
    )
    p.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="mattermost",
        help="rate-limit headers to send (default mattermost)",
    )
    p.add_argument(
        "--fault",
        action="append",
        choices=list(FAULTS),
        default=[],
        metavar="NAME",
        help="inject a documented misbehaviour (see the list below)",
    )
    p.add_argument(
        "--accounts",
        type=options.non_negative,
        default=100,
        help="seed users user1..userN (default 100)",
    )
    p.add_argument("--password", default="mmload-pass", type=_password,
                   help="password of every seeded user")  # fmt: skip
    p.set_defaults(command=_serve)


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload.server.serve import ServeOptions, serve  # the server's imports only when serving

    limits = LimitSettings(
        enabled=args.rate_limit,
        rate=Rate(args.per_sec, args.max_burst),
        memory_store_size=args.memory_store_size,
        keying=Keying(args.vary_by_remote_addr, args.vary_by_user, args.vary_by_header),
        algorithm=args.algorithm,
        dialect=args.dialect,
        faults=frozenset(args.fault),
    )
    options = ServeOptions(args.host, args.port, args.accounts, args.password, limits)
    try:
        serve(options, out)
    except OSError as exc:
        print(f"mmload serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=err)
        return ExitStatus.USAGE
    return ExitStatus.OK


def _add_run(sub: argparse._SubParsersAction) -> None:
    from mmload.harness.scenarios import NAMES

    p = sub.add_parser(
        "run",
        help="the main job: drive a scenario with Locust and record every rate-limit header",
        description="Run a Locust scenario against --host (or, without it, against the embedded "
        "reference server) and write a run folder. Arguments after -- go to Locust unchanged.",
    )
    p.add_argument("--host", default="", help="target URL (default: start the reference server)")
    p.add_argument("--scenario", choices=NAMES, default="hammer", help="default hammer")
    p.add_argument("-u", "--users", type=_positive, default=10, help="Locust users (default 10)")
    p.add_argument("-t", "--run-time", default="30s", help="e.g. 30s, 5m (default 30s)")
    # the options Locust users see too, defined once; "" here means: not given
    options.add_arguments(
        p, options.SHARED_WITH_RUN, locust=False, defaults={"--accounts": "", "--password": ""}
    )
    p.add_argument(
        "--processes",
        type=_positive,
        default=0,
        help="Locust worker processes (default: one process)",
    )
    p.add_argument("--web", action="store_true", help="show Locust's web UI instead of headless")
    p.set_defaults(command=_run)  # fmt: skip


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload.harness.launch import RunError, RunOptions, run

    options = RunOptions(
        host=args.host.rstrip("/"),
        scenario=args.scenario,
        users=args.users,
        run_time=args.run_time,
        api=args.api,
        accounts=args.accounts,
        password=args.password,
        documented_limit=args.documented_limit,
        documented_burst=args.documented_burst,
        out=args.out,
        processes=args.processes,
        web=args.web,
        extra=args.extra,
    )
    try:
        return run(options, out, err)
    except RunError as exc:
        print(f"mmload run: {exc}", file=err)
        return exc.status


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mmload", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mmload {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_serve(sub)
    _add_run(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: len(argv) - len(extra) - (1 if extra or "--" in argv else 0)])
    args.extra = extra
    if not hasattr(args, "command"):
        parser.print_help(out)
        return ExitStatus.USAGE
    try:
        return int(args.command(args, out, err))
    except KeyboardInterrupt:
        return ExitStatus.OK
