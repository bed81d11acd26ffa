"""Hooks mmload into Locust's events once per process: options, the collector, pacing inputs."""

from __future__ import annotations

import time
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from mmload.harness import collector, options

_installed = False
STOP_TIMEOUT = 5.0


def _scenario(environment: Environment) -> str:
    names = {getattr(cls, "scenario", "custom") for cls in environment.user_classes}
    return "+".join(sorted(names)) or "custom"


def _on_init(environment: Environment, **_: Any) -> None:
    parsed = environment.parsed_options
    if parsed is not None and not isinstance(environment.runner, WorkerRunner):
        vars(parsed)["mmload_users"] = parsed.num_users  # workers get it with each spawn message
    if not environment.stop_timeout:
        # Let users finish the request they are in when the run ends: a killed greenlet's
        # request reaches the server but never the collector, and totals would be off.
        environment.stop_timeout = STOP_TIMEOUT
    collector.register(environment, _scenario(environment))


def _on_test_start(environment: Environment, **_: Any) -> None:
    environment.mmload_start = time.time()  # type: ignore[attr-defined]
    runner = environment.runner
    parsed = environment.parsed_options
    target = getattr(runner, "target_user_count", None)
    if parsed is not None and target and not isinstance(runner, WorkerRunner):
        vars(parsed)["mmload_users"] = target


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    events.init_command_line_parser.add_listener(options.add_arguments)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
