"""Run the reference server until SIGINT/SIGTERM, announcing where it listens."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from mmload import defaults
from mmload.server.app import App
from mmload.server.http import HTTPProtocol, new_event_loop
from mmload.server.limiting import LimitSettings
from mmload.server.world import TEAM_NAME, World


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = defaults.SERVE_PORT
    accounts: int = defaults.SEEDED_ACCOUNTS
    password: str = defaults.SEEDED_PASSWORD
    limits: LimitSettings = field(default_factory=LimitSettings)
    cluster_secret: str = ""  # nodes with the same secret share ids and sessions (not limits)


def announce(app: App, url: str, out: TextIO) -> None:
    """The first line is for machines: ``mmload serve: listening on URL``."""
    limits = app.limits
    print(f"mmload serve: listening on {url}", file=out, flush=True)
    if limits.enabled:
        rate = limits.rate
        keying = limits.keying
        vary = [name for name, on in (("remote address", keying.vary_by_remote_addr),
                ("user", keying.vary_by_user)) if on]  # fmt: skip
        if keying.vary_by_header:
            vary.append(f"header {keying.vary_by_header}")
        print(
            f"mmload serve: rate limit {rate.per_sec:g}/s, burst {rate.burst}, "
            f"{limits.algorithm}, {limits.dialect} headers, by {' + '.join(vary) or 'nothing'}"
            + (f", faults: {', '.join(sorted(limits.faults))}" if limits.faults else ""),
            file=out,
        )
    else:
        print("mmload serve: rate limiting off", file=out)
    n = len(app.world.users)
    seeded = f"{n} accounts user1..user{n} (userK@example.com)" if n else "no accounts"
    print(f"mmload serve: {seeded} in team {TEAM_NAME}", file=out)
    if app.world.cluster:
        print(
            "mmload serve: cluster node: ids and tokens shared with every node started with the "
            "same --cluster-secret and --accounts; rate limits kept by this node alone",
            file=out,
        )
    for hook_id, channel in app.world.hooks.items():
        print(f"mmload serve: hook {url}/hooks/{hook_id} -> {channel.name}", file=out)
    print(f"mmload serve: counters at {url}/mmload/stats; stop with Ctrl-C", file=out, flush=True)


async def _serve(app: App, options: ServeOptions, out: TextIO, ready: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HTTPProtocol(app, app.error),
        options.host,
        options.port,
        backlog=1024,
        reuse_address=True,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before announcing: a caller may signal at once
        loop.add_signal_handler(sig, stop.set)
    host, port = server.sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    announce(app, f"http://{shown}:{port}", out)
    ready()
    await stop.wait()
    server.close()  # open keep-alive connections are dropped with the loop
    print(
        f"mmload serve: stopped after {sum(app.statuses.values())} requests "
        f"({app.statuses.get(429, 0)} limited)",
        file=out,
        flush=True,
    )


def serve(options: ServeOptions, out: TextIO, ready: Callable[[], None] = lambda: None) -> None:
    """Blocks until SIGINT or SIGTERM.  Raises OSError when the address cannot be bound."""
    app = App(World(options.accounts, options.password, options.cluster_secret), options.limits)
    gc.freeze()  # the seeded world lives forever: keep it out of every collection
    loop = new_event_loop()
    try:
        loop.run_until_complete(_serve(app, options, out, ready))
    finally:
        loop.close()
