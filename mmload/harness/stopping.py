"""Users that stop without a traceback, and requests that are recorded even when a user is killed
while it waits for the answer.

Locust logs a traceback for any exception a user's ``on_start`` raises, ``StopUser`` included;
a ``GreenletExit`` it takes quietly as the user's end, in ``on_start`` and in tasks alike.

At the end of a run Locust lets users finish the request they are in, up to the stop timeout, and
then kills them: a request killed that way reached the server (which counted it) but never fires
Locust's request event, so the run's totals would miss it.  :func:`request` fires it, as an error,
and starts no request once the run is ending.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

from gevent import GreenletExit
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING

from mmload.harness.state import state

log = logging.getLogger("mmload")
ENDING = (STATE_CLEANUP, STATE_STOPPING, STATE_STOPPED)  # a runner's states once it stops


class UserStopped(GreenletExit):
    """Ends one Locust user quietly; the reason was logged."""


class KilledWaiting(Exception):
    """The run ended (after the stop timeout) while this request waited for its answer."""

    def __init__(self) -> None:
        super().__init__("no answer before the run ended (the user was stopped while waiting)")


def note(environment: Any, counter: str) -> None:
    """Count an event for the run's summary (summed over processes)."""
    collector = state(environment).collector
    if collector is not None:
        collector.note(counter)


def stop_user(environment: Any, why: str, message: str) -> NoReturn:
    """Log ``message``, count the user as ``stopped: why`` and end it without a traceback."""
    log.error("mmload: %s", message)
    note(environment, f"stopped: {why}")
    raise UserStopped()


def request(user: Any, method: str, path: str, name: str, **kwargs: Any) -> Any:
    """``user.client.request(..., catch_response=True)``, to be used in a ``with`` block; if the
    user is killed while it waits, the request is recorded as an error before the user ends.

    Once the run is ending no request starts: Locust kills a user that was waiting between
    tasks at the next switch, which may come just after such a request has gone out."""
    if getattr(user.environment.runner, "state", None) in ENDING:
        raise UserStopped()
    start, began = time.time(), time.perf_counter()
    try:
        return user.client.request(method, path, name=name, catch_response=True, **kwargs)
    except GreenletExit:
        user.environment.events.request.fire(
            request_type=method,
            name=name,
            response_time=(time.perf_counter() - began) * 1000,
            response_length=0,
            response=None,
            context=user.context(),
            exception=KilledWaiting(),
            start_time=start,
            url=path,
        )
        raise
