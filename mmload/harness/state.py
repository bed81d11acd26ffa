"""What mmload keeps about a run in a Locust process, in one typed place.

:class:`RunState` is this process's own: when its test started and its collector, kept on
Locust's environment as ``environment.mmload`` and reached through :func:`state`.

:class:`Shared` is what the master tells every worker.  It travels inside Locust's parsed options,
which the master sends with each spawn message and a worker merges into its own before its
``test_start``; :func:`shared` reads it from a process's options and :func:`share` writes it there,
under the option names ``mmload_users``, ``mmload_workers``, ``mmload_started`` and
``mmload_offsets``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmload.harness.collector import Collector

ATTRIBUTE = "mmload"  # environment.mmload


@dataclass
class RunState:
    start: float | None = None  # UNIX time this process's test started (Locust's test_start)
    collector: Collector | None = None  # this process's collector, once registered


def state(environment: Any) -> RunState:
    """This process's run state, created on first use."""
    found = getattr(environment, ATTRIBUTE, None)
    if not isinstance(found, RunState):
        found = RunState()
        setattr(environment, ATTRIBUTE, found)
    return found


@dataclass(frozen=True)
class Shared:
    users: int | None = None  # users of the whole run, across workers
    workers: int | None = None  # how many workers the master spawns users on
    started: float | None = None  # UNIX time the master's test started: pacing's one origin
    # worker id -> (number of its first user among all users, how many users it gets)
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)


KEYS = {
    "users": "mmload_users",
    "workers": "mmload_workers",
    "started": "mmload_started",
    "offsets": "mmload_offsets",
}


def shared(options: Any) -> Shared:
    """What the master shared in these parsed options (``None`` or empty where it did not, and
    for options that are ``None``).  Offsets arrive from msgpack as lists: read as tuples."""
    values = getattr(options, "__dict__", {})
    users, workers = values.get(KEYS["users"]), values.get(KEYS["workers"])
    started = values.get(KEYS["started"])
    offsets = values.get(KEYS["offsets"]) or {}
    return Shared(
        users=int(users) if users else None,
        workers=int(workers) if workers else None,
        started=float(started) if started else None,
        offsets={str(w): (int(first), int(n)) for w, (first, n) in offsets.items()},
    )


def share(options: Any, values: Shared) -> None:
    """Put ``values`` into these parsed options, to travel with the next spawn message."""
    found = vars(options)
    found[KEYS["users"]] = values.users
    found[KEYS["workers"]] = values.workers
    found[KEYS["started"]] = values.started
    found[KEYS["offsets"]] = values.offsets
