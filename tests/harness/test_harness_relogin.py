"""MattermostUser's answers with a fake client and no sockets.  A rejected token (401): one
re-login per rejection, shared by the users of the account, at most three per account, then the
user stops with a clear error.  Other errors are named by status, never by URL."""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from typing import Any, cast

import pytest
from locust.env import Environment

from mmload.harness import users
from mmload.harness.collector import Collector
from mmload.harness.state import state
from mmload.harness.stopping import UserStopped
from mmload.harness.users import MattermostUser, Tokens


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str], name: str) -> None:
        self.status_code, self.headers = status, headers
        self.request_meta = {"name": name}
        self.error = None
        self.failed = ""

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def success(self) -> None:
        self.failed = ""

    def failure(self, why: str) -> None:
        self.failed = why


class FakeServer:
    """Issues token-1, token-2, ... at each login and answers every other request ``status``."""

    def __init__(self, status: int = 401) -> None:
        self.status = status
        self.logins = 0
        self.seen: list[tuple[str, str]] = []  # (path, the Authorization sent)

    def request(
        self, method: str, path: str, name: str, catch_response: bool, **kwargs: Any
    ) -> FakeResponse:
        self.seen.append((path, (kwargs.get("headers") or {}).get("Authorization", "")))
        if path.endswith("/users/login"):
            self.logins += 1
            return FakeResponse(200, {"Token": f"token-{self.logins}"}, name)
        return FakeResponse(self.status, {}, name)


class FakeCollector:
    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()

    def note(self, counter: str) -> None:
        self.counters[counter] += 1


def counters_of(environment: Environment) -> Counter[str]:
    return cast(FakeCollector, state(environment).collector).counters


class _Me(MattermostUser):
    host = "http://127.0.0.1:9"  # never connected to: the client is replaced


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Environment:
    """One process, one seeded account, its load already started (no waiting)."""
    monkeypatch.setattr(MattermostUser, "_tokens", Tokens())
    monkeypatch.setattr(MattermostUser, "_accounts", None)
    monkeypatch.setattr(MattermostUser, "_system_address", "127.0.0.1")
    options = argparse.Namespace(accounts="1", num_users=2)
    env = Environment(user_classes=[_Me], parsed_options=options, host=_Me.host)
    state(env).start = time.time() - 10
    state(env).collector = cast(Collector, FakeCollector())
    return env


def started(environment: Environment, server: FakeServer) -> MattermostUser:
    user = _Me(environment)
    user.client = server  # type: ignore[assignment]
    user.on_start()
    return user


def test_a_rejected_token_is_replaced_once_for_all_users_of_the_account(
    environment: Environment,
) -> None:
    server = FakeServer()
    first, second = started(environment, server), started(environment, server)
    assert server.logins == 1 and first.token == second.token == "token-1"
    resp = first.call("GET", "/api/v4/users/me")
    assert resp.failed == "401: token rejected"
    assert server.logins == 2 and first.token == "token-2"
    assert first.auth == {"Authorization": "Bearer token-2"}
    second.call("GET", "/api/v4/users/me")  # rejected with token-1: takes token-2, no login
    assert server.logins == 2 and second.token == "token-2"
    assert counters_of(environment)["relogins"] == 1
    assert server.seen[-1] == ("/api/v4/users/me", "Bearer token-1")


def test_after_three_relogins_the_user_stops_with_a_clear_error(
    environment: Environment, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer()
    user = started(environment, server)
    for _ in range(users.MAX_RELOGINS):
        user.call("GET", "/api/v4/users/me")
    assert server.logins == 1 + 3 and user.token == "token-4"
    with caplog.at_level(logging.ERROR, logger="mmload"), pytest.raises(UserStopped):
        user.call("GET", "/api/v4/users/me")
    assert server.logins == 4  # no fourth re-login
    counters = counters_of(environment)
    assert counters["relogins"] == 3 and counters["stopped: login failed"] == 1
    assert "rejected (401) again after 3 re-logins" in caplog.text
    assert "at most 3 re-logins per account" in caplog.text
    other = started(environment, server)  # the account's cap holds for every user of it
    with pytest.raises(UserStopped):
        other.call("GET", "/api/v4/users/me")
    assert server.logins == 4


class _Hook(MattermostUser):
    host = _Me.host
    authenticated = False


@pytest.mark.parametrize("status", [401, 404, 500])
def test_an_error_is_named_by_its_status_not_its_url(environment: Environment, status: int) -> None:
    """Locust's own text is "URL http://host/hooks/<id>: code=404": a hook's id is a secret."""
    user = _Hook(environment)
    user.client = FakeServer(status)  # type: ignore[assignment]
    resp = user.call("POST", "/hooks/hk7q3xw1ot8bd5mz9yca4rupne", name="POST /hooks/{hook_id}")
    assert resp.failed == f"HTTP {status}"
