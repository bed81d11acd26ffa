"""The ``mmload`` command: parses arguments and calls the library; nothing else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from mmload import __version__
from mmload.exitcodes import ExitStatus
from mmload.limiter.dialects import DIALECTS
from mmload.limiter.faults import FAULTS
from mmload.limiter.keying import Keying
from mmload.limiter.policy import ALGORITHMS, LimitSettings
from mmload.rate import Rate


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative, not {value}")
    return value


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
    p.add_argument("--max-burst", type=_non_negative, default=100, help="MaxBurst (default 100)")
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
        "--accounts", type=_non_negative, default=100, help="seed users user1..userN (default 100)"
    )
    p.add_argument("--password", default="mmload-pass", help="password of every seeded user")
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mmload", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mmload {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_serve(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help(out)
        return ExitStatus.USAGE
    try:
        return int(args.command(args, out, err))
    except KeyboardInterrupt:
        return ExitStatus.OK
