"""Hooks mmload into Locust's events once per process: options, the collector, pacing inputs."""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import replace
from typing import Any, NoReturn

import locust
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from mmload import options, source_ips
from mmload.exitcodes import ExitStatus
from mmload.harness import accounts, collector, locust_api, prometheus, webui
from mmload.harness.scenarios import LOGIN
from mmload.harness.state import share, shared, state

_installed = False
STOP_TIMEOUT = 5.0


def _scenario(environment: Environment) -> str:
    names = {getattr(cls, "scenario", "custom") for cls in environment.user_classes}
    return "+".join(sorted(names)) or "custom"


def refuse(message: str) -> NoReturn:
    """A usage error before anything starts: exit 2 with a clear message."""
    print(f"mmload: {message}", file=sys.stderr, flush=True)
    sys.exit(ExitStatus.USAGE)


def check_options(environment: Environment) -> None:
    """Every option acts or is refused: scenario and login options the users would ignore, and
    scenarios that log in without the accounts to do it with (never guessed for someone's
    server)."""
    parsed = environment.parsed_options
    if parsed is None or isinstance(environment.runner, WorkerRunner):
        return  # workers run what the master checked
    classes = environment.user_classes
    uses: dict[str, frozenset[str]] = {
        getattr(c, "scenario", c.__name__): getattr(c, "uses", frozenset())
        | (LOGIN if getattr(c, "authenticated", False) else frozenset())
        for c in classes
    }
    given = [d for d in options.SCENARIO_ONLY if getattr(parsed, d, None) not in (None, "")]
    given += options.login_given(parsed)
    message = options.refusal(
        options.Given(
            uses,
            tuple(given),
            getattr(parsed, "api", "v4"),
            bool(getattr(parsed, "hook_id", "")),
            getattr(parsed, "vary_by", "address"),
            getattr(parsed, "documented_limit", None),
            getattr(parsed, "prometheus_port", None),
            getattr(parsed, "prometheus_host", None),
            getattr(parsed, "prometheus_linger", None),
            getattr(parsed, "exit_code_on_error", None),
            distributed=isinstance(environment.runner, MasterRunner),
        )
    )
    sources = getattr(parsed, "source_ips", None)
    if not message and sources and environment.host:
        message = source_ips.other_family(sources, environment.host)
    if message:
        refuse(message)
    if any(getattr(c, "authenticated", False) for c in classes):
        check_accounts(getattr(parsed, "accounts", "") or "", "password" in given)


def check_accounts(spec: str, password_given: bool) -> None:
    """The accounts to log in with, readable, and no password given that they would ignore."""
    try:
        if not spec:
            raise accounts.AccountsError(accounts.REQUIRED)
        if password_given and not accounts.is_seeded(spec):
            raise accounts.AccountsError(accounts.FILE_PASSWORDS)
        accounts.resolve(spec)
    except accounts.AccountsError as exc:
        refuse(str(exc))


def _on_init(environment: Environment, **_: Any) -> None:
    gone = locust_api.missing()
    if gone:
        refuse(
            f"this Locust ({locust.__version__}) lacks what mmload relies on: "
            f"{', '.join(gone)}; install a Locust that pyproject.toml allows"
        )
    check_options(environment)
    parsed = environment.parsed_options
    if parsed is not None and not isinstance(environment.runner, WorkerRunner):
        share(parsed, replace(shared(parsed), users=parsed.num_users))  # for every worker
    if not environment.stop_timeout:
        # Let users finish the request they are in when the run ends: a killed greenlet's
        # request reaches the server but never the collector, and totals would be off.
        environment.stop_timeout = STOP_TIMEOUT
    live = None
    if environment.web_ui is not None:  # the Rate limits tab: only where there is a web UI
        try:
            live = webui.register(environment)
        except webui.WebUIError as exc:
            refuse(str(exc))
    found = collector.register(environment, _scenario(environment), live.add if live else None)
    try:
        prometheus.register(environment, found, live)
    except prometheus.PrometheusError as exc:
        refuse(str(exc))
    # Everything loaded so far (Locust, mmload, numpy, the locustfile) lives as long as the
    # process: keep it out of the garbage collector's full passes during the load, as the
    # reference server does.
    gc.collect()
    gc.freeze()


def _on_test_start(environment: Environment, **_: Any) -> None:
    started = state(environment).start = time.time()
    runner = environment.runner
    parsed = environment.parsed_options
    target = getattr(runner, "target_user_count", None)
    if parsed is not None and target and not isinstance(runner, WorkerRunner):
        share(parsed, replace(shared(parsed), users=target))
    if parsed is not None and isinstance(runner, MasterRunner):  # for pacing: users.place_of
        offsets = worker_offsets(environment, runner, target or 0)
        # one origin of pacing for every process: a worker's own test start comes when the
        # spawn message reaches it, tens of milliseconds apart on a busy machine
        told = replace(shared(parsed), workers=runner.worker_count, started=started)
        share(parsed, replace(told, offsets=offsets))


def worker_offsets(
    environment: Environment, runner: MasterRunner, users: int
) -> dict[str, tuple[int, int]]:
    """worker id -> (number of its first user among all users, how many it gets), from the
    distribution Locust's own dispatcher arrives at (its ramp ends where a ramp from zero in
    one go ends).  {} if that cannot be known: users then fall back to a grid."""
    clients = runner.clients
    nodes = [*clients.ready, *clients.running, *clients.spawning]
    try:
        dispatcher = environment.dispatcher_class(
            worker_nodes=nodes, user_classes=environment.user_classes
        )
        per_worker = dispatcher._distribute_users(users)[0]
    except Exception:  # a dispatcher of another shape: a private method changed
        return {}
    offsets, total = {}, 0
    for worker, counts in per_worker.items():
        n = sum(counts.values())
        offsets[worker] = (total, n)
        total += n
    return offsets


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    events.init_command_line_parser.add_listener(options.add_arguments)
    events.init_command_line_parser.add_listener(webui.loopback_by_default)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
