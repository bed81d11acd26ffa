"""``mmload serve``: the reference server's command line."""

from __future__ import annotations

import argparse
import os
from typing import Any, TextIO

from mmload import defaults
from mmload.dialects import DIALECTS
from mmload.exitcodes import ExitStatus
from mmload.limiter.faults import FAULTS
from mmload.limiter.keying import Keying
from mmload.limiter.rate import Rate
from mmload.options import non_negative, password, port, positive
from mmload.server.limiting import ALGORITHMS, LimitSettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    faults = "\n".join(f"  {name:16} {text}" for name, text in FAULTS.items())
    p = sub.add_parser(
        "serve",
        help="run the reference server (Mattermost's API and rate limiter)",
        description="Run a server that answers like Mattermost with rate limiting on. The first "
        "line printed is its ready line, for machines: one JSON object with url, stats, limits, "
        "limits_text, accounts, team, cluster and hooks; the lines after it are for people. "
        "Stop it with Ctrl-C or SIGTERM.",
        epilog=f"faults (--fault NAME, repeatable):\n{faults}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=port,
        default=defaults.SERVE_PORT,
        help=f"port (default {defaults.SERVE_PORT}; 0: any free)",
    )
    add_limit_arguments(p)
    p.add_argument(
        "--accounts",
        type=non_negative,
        default=defaults.SEEDED_ACCOUNTS,
        help=f"seed users user1..userN (default {defaults.SEEDED_ACCOUNTS})",
    )
    p.add_argument(
        "--password",
        default=os.environ.get("MMLOAD_PASSWORD") or defaults.SEEDED_PASSWORD,
        type=password,
        help="password of every seeded user (or MMLOAD_PASSWORD, which ps does not show)",
    )
    p.add_argument(
        "--max-login-attempts",
        type=non_negative,
        default=10,
        metavar="N",
        help="ServiceSettings.MaximumLoginAttempts: an account with N failed logins in a row is "
        "locked (401, Mattermost's error id), whatever password comes next (default 10, "
        "Mattermost's; 0: off)",
    )
    p.add_argument(
        "--cluster-secret",
        type=cluster_secret,
        metavar="S",
        help="be one node of a cluster: nodes started with the same secret and --accounts agree "
        "on every id and accept each other's tokens, while each keeps its own rate-limit store, "
        "as Mattermost's nodes do (default: a server of its own)",
    )
    p.set_defaults(command=serve)


def cluster_secret(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty secret would make every server one cluster")
    return text


# the limiter's options (dest -> default): None in the parsed arguments means not given
LIMIT_DEFAULTS: dict[str, object] = {
    "per_sec": defaults.PER_SEC,
    "max_burst": defaults.MAX_BURST,
    "memory_store_size": defaults.MEMORY_STORE_SIZE,
    "vary_by_remote_addr": True,
    "vary_by_user": False,
    "vary_by_header": "",
    "trust_forwarded": False,
    "per_route": False,
    "algorithm": defaults.ALGORITHM,
    "dialect": defaults.DIALECT,
    "fault": [],
}


def add_limit_arguments(p: argparse.ArgumentParser) -> None:
    """Mattermost's RateLimitSettings, and mmload's algorithms, dialects and faults."""
    p.add_argument(
        "--rate-limit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="RateLimitSettings.Enable (default on); off, every other limiter option is refused",
    )
    p.add_argument("--per-sec", type=positive, help=f"PerSec (default {defaults.PER_SEC})")
    p.add_argument(
        "--max-burst", type=non_negative, help=f"MaxBurst (default {defaults.MAX_BURST})"
    )
    p.add_argument(
        "--memory-store-size",
        type=positive,
        help="MemoryStoreSize: keys the LRU store holds, for every algorithm "
        f"(default {defaults.MEMORY_STORE_SIZE})",
    )
    p.add_argument(
        "--vary-by-remote-addr",
        action=argparse.BooleanOptionalAction,
        help="VaryByRemoteAddr (default on)",
    )
    p.add_argument(
        "--vary-by-user",
        action=argparse.BooleanOptionalAction,
        help="VaryByUser: one bucket per auth token (default off)",
    )
    p.add_argument(
        "--vary-by-header",
        metavar="NAME",
        help="VaryByHeader: append this header's lower-cased value to the key",
    )
    p.add_argument(
        "--trust-forwarded",
        action="store_true",
        default=None,
        help="not Mattermost's: key on the left-most X-Forwarded-For when a request sends one "
        "(the classic misconfiguration a spoofed header bypasses)",
    )
    p.add_argument(
        "--per-route",
        action="store_true",
        default=None,
        help="not Mattermost's: a bucket per path exactly as sent (so another spelling of a "
        "route gets a fresh bucket)",
    )
    p.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        help=f"{defaults.ALGORITHM} (default) is Mattermost's; the window algorithms come from "
        "the limits library",
    )
    p.add_argument(
        "--dialect",
        choices=DIALECTS,
        help=f"rate-limit headers to send (default {defaults.DIALECT})",
    )
    p.add_argument(
        "--fault",
        action="append",
        choices=list(FAULTS),
        metavar="NAME",
        help="inject a documented misbehaviour (see the list below)",
    )


def limit_settings(args: argparse.Namespace) -> LimitSettings:
    def get(dest: str) -> Any:
        value = getattr(args, dest)
        return LIMIT_DEFAULTS[dest] if value is None else value

    return LimitSettings(
        enabled=args.rate_limit,
        rate=Rate(get("per_sec"), get("max_burst")),
        memory_store_size=get("memory_store_size"),
        keying=Keying(
            get("vary_by_remote_addr"),
            get("vary_by_user"),
            get("vary_by_header"),
            get("trust_forwarded"),
            get("per_route"),
        ),
        algorithm=get("algorithm"),
        dialect=get("dialect"),
        faults=frozenset(get("fault")),
    )


def ignored_without_limiting(args: argparse.Namespace) -> list[str]:
    """The limiter options given that --no-rate-limit would ignore (as written)."""
    if args.rate_limit:
        return []
    given = []
    for dest in LIMIT_DEFAULTS:
        value = getattr(args, dest)
        if value is None:
            continue
        flag = "--" + dest.replace("_", "-")
        given.append(flag.replace("--", "--no-", 1) if value is False else flag)
    return given


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> ExitStatus:
    from mmload.server.serve import ServeOptions, serve  # the server's imports only when serving

    ignored = ignored_without_limiting(args)
    if ignored:
        print(
            f"mmload serve: --no-rate-limit turns the limiter off, so it would ignore "
            f"{', '.join(ignored)}",
            file=err,
        )
        return ExitStatus.USAGE
    options = ServeOptions(
        args.host,
        args.port,
        args.accounts,
        args.password,
        limit_settings(args),
        args.cluster_secret or "",
        args.max_login_attempts,
    )
    try:
        serve(options, out)
    except OSError as exc:
        print(f"mmload serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=err)
        return ExitStatus.USAGE
    except ValueError as exc:  # settings the server cannot take (too many cluster accounts)
        print(f"mmload serve: {exc}", file=err)
        return ExitStatus.USAGE
    return ExitStatus.OK
