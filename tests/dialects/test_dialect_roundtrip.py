"""Every header dialect both ways, for every algorithm of the reference server: what the collector
records equals what the server decided, request by request.

In process: the server's own pipeline (limiter, dialect, HTTP encoding) answers, geventhttpclient's
parser reads the bytes as FastHttpUser does, and the collector's capture turns them into records.
Live: the same through real sockets against ``mmload serve``.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import pytest
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPResponse

from mmload.dialects import DIALECTS
from mmload.harness.capture import Capture
from mmload.limiter.decision import NS, Decision, ceil_seconds
from mmload.limiter.rate import Rate
from mmload.server.app import App
from mmload.server.http import Request, encode
from mmload.server.limiting import ALGORITHMS, LimitSettings
from mmload.server.world import World
from tests.support.server_fixture import ServeFactory

ME = "/api/v4/users/me"


def through_the_wire(app: App, request: Request) -> Any:
    """The app's answer, encoded by the server and parsed back by geventhttpclient."""
    parsed = HTTPResponse(method=request.method)
    parsed.feed(encode(app(request), keep_alive=True))
    assert parsed.headers_complete and parsed.message_complete
    return SimpleNamespace(status_code=parsed.status_code, headers=parsed._headers_index)


def expected(decision: Decision, dialect: str, wall: float, window_s: int) -> dict[str, Any]:
    reset = ceil_seconds(decision.reset_after_ns)
    if dialect == "epoch":
        reset = math.ceil(wall + decision.reset_after_ns / NS)
    retry = ceil_seconds(decision.retry_after_ns) if decision.limited else None
    if dialect == "none":
        return {
            "limit": None,
            "remaining": None,
            "reset": None,
            "retry_after": retry,
            "window": None,
            "dialect": "",
        }
    return {
        "limit": decision.limit,
        "remaining": decision.remaining,
        "reset": reset,
        "retry_after": retry,
        "dialect": dialect,
        "window": window_s if dialect.startswith("ietf") else None,
    }


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_is_recorded_is_what_the_server_decided(dialect: str, algorithm: str) -> None:
    settings = LimitSettings(rate=Rate(5, 3), algorithm=algorithm, dialect=dialect)
    app = App(World(1, "pw"), settings)
    limiter = app.limiter
    assert limiter is not None
    decided: list[Decision] = []  # what the limiter decided, and the wall clock it rendered at
    walls: list[float] = []
    hit, wall = limiter.algorithm.hit, limiter.wall

    def record_hit(key: str) -> Decision:
        decided.append(hit(key))
        return decided[-1]

    def record_wall() -> float:
        walls.append(wall())
        return walls[-1]

    limiter.wall = record_wall

    limiter.algorithm.hit = record_hit  # type: ignore[method-assign]
    capture = Capture()
    login = Request(
        "POST", "/api/v4/users/login", "", {}, b'{"login_id":"user1","password":"pw"}', "127.0.0.1"
    )
    answer = through_the_wire(app, login)
    token = answer.headers["token"]
    capture.on_request("POST", "login", 1.0, 0, response=answer, start_time=1000.0)
    for k in range(20):
        request = Request("GET", ME, "", {"authorization": f"Bearer {token}"}, b"", "127.0.0.1")
        answer = through_the_wire(app, request)
        capture.on_request("GET", ME, 1.0, 0, response=answer, start_time=1000.1 + k / 100)
    records = list(capture.take().records())
    assert len(records) == len(decided) == 21
    assert any(d.limited for d in decided) and not all(d.limited for d in decided)
    for record, decision, wall_at in zip(records, decided, walls, strict=True):
        want = expected(decision, dialect, wall_at, limiter.window_s)
        got = {k: getattr(record, k) for k in want}
        assert got == want, (record, decision)
        assert (record.status == 429) == decision.limited
        assert record.error == "" and record.date is not None


LIVE = [(d, "gcra") for d in DIALECTS] + [("mattermost", a) for a in ALGORITHMS if a != "gcra"]


@pytest.mark.parametrize(("dialect", "algorithm"), LIVE)
def test_live_answers_are_recorded_in_full(
    serve: ServeFactory, dialect: str, algorithm: str
) -> None:
    server = serve(
        "--per-sec",
        "5",
        "--max-burst",
        "3",
        "--dialect",
        dialect,
        "--algorithm",
        algorithm,
        "--accounts",
        "1",
    )
    client = HTTPClient.from_url(server.url, concurrency=1)
    try:
        credentials = {"login_id": "user1", "password": "mmload-pass"}
        login = client.post("/api/v4/users/login", body=json.dumps(credentials))
        auth = {"Authorization": f"Bearer {login['token']}"}
        login.read()
        capture = Capture()
        for k in range(12):
            response = client.get(ME, headers=auth)
            response.read()
            as_locust = SimpleNamespace(  # what FastHttpUser's response shows of it
                status_code=response.status_code, headers=response._headers_index
            )
            capture.on_request("GET", ME, 1.0, 0, response=as_locust, start_time=1000 + k)
    finally:
        client.close()
    records = list(capture.take().records())
    assert {r.status for r in records} == {200, 429}
    for r in records:
        assert r.error == ""
        if r.status == 200:
            assert r.retry_after is None
        else:
            assert r.retry_after is not None and r.retry_after >= 1
        if dialect == "none":
            assert (r.limit, r.remaining, r.dialect) == (None, None, "")
        else:
            assert r.dialect == dialect and None not in (r.limit, r.remaining, r.reset)
            assert 0 <= r.remaining <= r.limit  # type: ignore[operator]
    accepted = [r.remaining for r in records if r.status == 200 and r.remaining is not None]
    assert accepted == sorted(accepted, reverse=True)  # the burst drains
