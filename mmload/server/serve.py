"""Run the reference server until SIGINT/SIGTERM, announcing where it listens."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from mmload import defaults
from mmload.server import memory, ready
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
    max_login_attempts: int = 10  # Mattermost's MaximumLoginAttempts and its default; 0 off


def announce(app: App, url: str, out: TextIO) -> None:
    """The first line is for machines: the ready line (:mod:`mmload.server.ready`), JSON; the
    rest say the same for people."""
    limits, limits_text = ready.of_limits(app.limits)
    hooks = {channel.name: f"{url}/hooks/{hook_id}" for hook_id, channel in app.world.hooks.items()}
    n = len(app.world.users)
    line = ready.Ready(url, limits_text, limits, n, TEAM_NAME, app.world.cluster, hooks).line()
    print(line, file=out, flush=True)
    print(f"mmload serve: listening on {url}", file=out)
    print(f"mmload serve: {limits_text}", file=out)
    seeded = f"{n} accounts user1..user{n} (userK@example.com)" if n else "no accounts"
    print(f"mmload serve: {seeded} in team {TEAM_NAME}", file=out)
    if app.world.cluster:
        print(
            "mmload serve: cluster node: ids and tokens shared with every node started with the "
            "same --cluster-secret and --accounts; rate limits kept by this node alone",
            file=out,
        )
    for channel, hook in hooks.items():
        print(f"mmload serve: hook {hook} -> {channel}", file=out)
    print(f"mmload serve: counters at {url}/mmload/stats; stop with Ctrl-C", file=out, flush=True)


async def _sample_memory(app: App, stop: asyncio.Event) -> None:
    """The server's memory now, then every :data:`memory.EVERY` seconds until it stops."""
    while not stop.is_set():
        app.memory.take()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), memory.EVERY)


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
    sampling = asyncio.create_task(_sample_memory(app, stop))
    await stop.wait()
    await sampling
    server.close()  # open keep-alive connections are dropped with the loop
    print(
        f"mmload serve: stopped after {sum(app.statuses.values())} requests "
        f"({app.statuses.get(429, 0)} limited)",
        file=out,
        flush=True,
    )


def serve(options: ServeOptions, out: TextIO, ready: Callable[[], None] = lambda: None) -> None:
    """Blocks until SIGINT or SIGTERM.  Raises OSError when the address cannot be bound."""
    world = World(
        options.accounts, options.password, options.cluster_secret, options.max_login_attempts
    )
    app = App(world, options.limits)
    gc.freeze()  # the seeded world lives forever: keep it out of every collection
    loop = new_event_loop()
    try:
        loop.run_until_complete(_serve(app, options, out, ready))
    finally:
        loop.close()
