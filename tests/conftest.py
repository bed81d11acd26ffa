"""Fixtures shared by the tests: the real reference server, started on port 0; and the ``live``
marker on every test under ``tests/live/`` (runs of Locust, nginx, a browser), so that
``pytest -m "not live"`` is the quick loop.

Some tests drive mmload's Locust side in this process, and importing Locust monkey-patches the
standard library with gevent; that must happen before anything imports ssl or sockets, so it is
done here, first, for the whole session (as Locust's own test suite does).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.support.server_fixture import ServeFactory, Server  # noqa: E402


def _serve_and_stop() -> Iterator[ServeFactory]:
    """``start(*args)`` runs ``mmload serve --port 0 *args``; every server is stopped afterwards.

    A server still running at teardown gets SIGTERM and must exit 0; no server may have written a
    traceback (a handler that raised answered 500 somewhere).
    """
    started: list[Server] = []

    def start(*args: str) -> Server:
        server = Server.start(*args)
        started.append(server)
        return server

    yield start

    problems = []
    for server in started:
        still_running = server.returncode is None
        code = server.stop()
        if still_running and code != 0:
            problems.append(f"{server.command} exited {code} on SIGTERM at teardown")
        if "Traceback" in server.stderr():
            problems.append(f"{server.command} wrote a traceback:\n{server.stderr()}")
        server.close()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """A server of the test's own: fresh buckets, sessions, posts and counters."""
    yield from _serve_and_stop()


@pytest.fixture(scope="module")
def serve_for_module() -> Iterator[ServeFactory]:
    """For tests that neither read counters nor depend on state other tests leave behind."""
    yield from _serve_and_stop()


LIVE = Path(__file__).resolve().parent / "live"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if LIVE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.live)
