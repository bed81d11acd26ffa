"""The reference server as an HTTP/1.1 server: stamps, error statuses, limits, malformed input,
keep-alive and pipelining.  Raw sockets where ``requests`` would not send what we need."""

from __future__ import annotations

import json
import socket
import struct

import pytest
import requests

from tests.support import rawhttp
from tests.support.server_checks import assert_app_error, assert_stamped
from tests.support.server_fixture import DEFAULT_PASSWORD, ServeFactory, Server

MAX_BODY = 1 << 20
ME = "/api/v4/users/me"
LOGIN = "/api/v4/users/login"


@pytest.fixture(scope="module")
def server(serve_for_module: ServeFactory) -> Server:
    """Shared by the tests of this module that need no fresh state."""
    return serve_for_module("--no-rate-limit", "--accounts", "3")


def assert_still_serving(server: Server) -> None:
    """A new connection gets a normal answer: the last test did not wedge or kill the server."""
    answer = rawhttp.exchange(server.port, rawhttp.request_bytes("GET", ME), expect=1)
    assert answer.statuses == [401]
    assert json.loads(answer.responses[0].body)["status_code"] == 401


def test_every_response_carries_request_and_version_ids(serve: ServeFactory) -> None:
    server = serve("--per-sec", "1", "--max-burst", "5")
    login = {"login_id": "user1", "password": DEFAULT_PASSWORD}
    responses = [
        server.post(LOGIN, json=login),
        server.get(ME),
        server.get("/nope"),
        server.request("DELETE", ME),
        server.post(LOGIN, data=b"{"),
        requests.get(server.url + "/mmload/stats", timeout=10),
    ]
    for _ in range(10):  # the bucket holds 6; refill may add one or two
        responses.append(server.get(ME))
        if responses[-1].status_code == 429:
            break

    assert [r.status_code for r in responses[:6]] == [200, 401, 404, 405, 400, 200]
    assert responses[-1].status_code == 429
    request_ids = [assert_stamped(r.headers) for r in responses]
    assert len(set(request_ids)) == len(request_ids), "request ids repeat"
    assert len({r.headers["X-Version-Id"] for r in responses}) == 1
    for r in responses:
        if r.headers["Content-Type"].startswith("application/json") and r.status_code >= 400:
            assert_app_error(r, r.status_code)


@pytest.mark.parametrize(
    "path", ["/", "/api/v4/nope", "/api/v4/users/me/extra", "/api/v5/users/me", "/hooks/", "/api"]
)
def test_unknown_route_is_404(server: Server, path: str) -> None:
    assert_app_error(server.get(path), 404, "api.context.404.app_error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", ME),
        ("GET", LOGIN),
        ("PUT", "/api/v4/posts"),
        ("PATCH", "/api/v1/users/login"),
        ("GET", "/api/v4/users/logout"),
        ("POST", "/api/v4/channels/yyyyyyyyyyyyyyyyyyyyyyyyyy/posts"),
    ],
)
def test_wrong_method_is_405(server: Server, method: str, path: str) -> None:
    assert_app_error(server.request(method, path), 405, "api.context.405.app_error")


def test_wrong_method_on_a_hook_is_405(server: Server) -> None:
    assert_app_error(requests.get(server.hooks["town-square"], timeout=10), 405)


def test_head_has_the_headers_of_get_and_no_body(server: Server) -> None:
    token = server.login()
    auth = {"Authorization": f"Bearer {token}"}

    get, head = server.get(ME, headers=auth), server.request("HEAD", ME, headers=auth)

    assert (get.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(len(get.content))
    assert_stamped(head.headers)


def test_body_of_exactly_1_mib_is_read(server: Server) -> None:
    login = json.dumps({"login_id": "user1", "password": DEFAULT_PASSWORD}).encode()
    body = login + b" " * (MAX_BODY - len(login))

    response = server.post(LOGIN, data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text


def test_content_length_over_1_mib_is_413_and_closes(server: Server) -> None:
    head = rawhttp.request_bytes("POST", LOGIN, {"Content-Length": str(MAX_BODY + 1)})

    answer = rawhttp.exchange(server.port, head)

    assert answer.statuses == [413]
    assert answer.closed
    assert_still_serving(server)


def test_chunked_body_over_1_mib_is_413_and_closes(server: Server) -> None:
    head = b"POST /api/v4/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n" % (MAX_BODY + 1) + b"x" * (MAX_BODY + 1)  # no trailer: 413 comes first

    answer = rawhttp.exchange(server.port, head + chunk)

    assert answer.statuses == [413]
    assert answer.closed
    assert_still_serving(server)


def test_413_is_an_app_error_like_every_other_error(server: Server) -> None:
    head = rawhttp.request_bytes("POST", LOGIN, {"Content-Length": str(MAX_BODY + 1)})

    [response] = rawhttp.exchange(server.port, head).responses

    request_id = assert_stamped(response.headers)
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(response.body)
    assert (body["status_code"], body["request_id"]) == (413, request_id)


MALFORMED = {
    "garbage": b"\x00\xff\x13\x10garbage\r\n\r\n",
    "tls-hello": bytes.fromhex("16030100a1010000"),
    "no-target": b"GET\r\n\r\n",
    "bad-method": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "header-without-colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "control-char-in-header": b"GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
    "bad-content-length": b"POST /api/v4/posts HTTP/1.1\r\nHost: x\r\nContent-Length: ab\r\n\r\n",
    "smuggling-cl-te": b"POST /api/v4/posts HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-chunk-size": b"POST /api/v4/posts HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_gets_400_and_the_server_goes_on(server: Server, data: bytes) -> None:
    answer = rawhttp.exchange(server.port, data)

    assert answer.closed
    assert answer.statuses == [400], [r.body for r in answer.responses]
    assert_still_serving(server)


@pytest.mark.parametrize("where", ["header", "target"])
def test_huge_header_or_target_gets_431(server: Server, where: str) -> None:
    huge = "a" * (2 * MAX_BODY)
    close = {"Connection": "close"}  # so that a server that answers it does not keep us waiting
    if where == "header":
        data = rawhttp.request_bytes("GET", ME, {"X-Huge": huge, **close})
    else:
        data = rawhttp.request_bytes("GET", f"/{huge}", close)

    answer = rawhttp.exchange(server.port, data)

    assert_still_serving(server)
    assert answer.closed
    assert answer.statuses == [431]


def test_client_hanging_up_mid_request_does_not_hurt(server: Server) -> None:
    partial = [
        b"GET /api/v4/us",
        b'POST /api/v4/posts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"chan',
    ]
    for data in partial:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(data)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(data)  # closed with a reset

    assert_still_serving(server)


def test_pipelined_requests_are_answered_in_order(server: Server) -> None:
    token = server.login()
    auth = {"Authorization": f"Bearer {token}"}
    channel_id = server.get(
        "/api/v4/users/me/teams/"
        + server.get(f"{ME}/teams", headers=auth).json()[0]["id"]
        + "/channels",
        headers=auth,
    ).json()[0]["id"]
    requests_, expected = [], []
    for k in range(8):
        body = json.dumps({"channel_id": channel_id, "message": f"pipelined {k}"}).encode()
        requests_.append(rawhttp.request_bytes("POST", "/api/v4/posts", auth, body))
        expected.append(201)
        requests_.append(rawhttp.request_bytes("GET", "/nope" if k % 2 else ME, auth))
        expected.append(404 if k % 2 else 200)

    answer = rawhttp.exchange(server.port, b"".join(requests_), expect=len(requests_))

    assert answer.statuses == expected
    messages = [json.loads(r.body)["message"] for r in answer.responses if r.status == 201]
    assert messages == [f"pipelined {k}" for k in range(8)]
    request_ids = [assert_stamped(r.headers) for r in answer.responses]
    assert len(set(request_ids)) == len(request_ids)
    assert not answer.closed


def test_keep_alive_unless_the_client_says_close(server: Server) -> None:
    kept = rawhttp.exchange(server.port, rawhttp.request_bytes("GET", ME) * 2, expect=2)
    close = rawhttp.request_bytes("GET", ME, {"Connection": "close"})
    closed = rawhttp.exchange(server.port, close)
    http10 = rawhttp.exchange(server.port, b"GET /api/v4/users/me HTTP/1.0\r\n\r\n")

    assert (kept.statuses, kept.closed) == ([401, 401], False)
    assert "close" not in kept.responses[-1].headers.get("connection", "")
    for answer in (closed, http10):
        assert (answer.statuses, answer.closed) == ([401], True)
        assert answer.responses[0].headers["connection"].lower() == "close"


def test_expect_100_continue_is_honoured(server: Server) -> None:
    body = json.dumps({"login_id": "user1", "password": DEFAULT_PASSWORD}).encode()
    head = rawhttp.request_bytes("POST", LOGIN, {"Expect": "100-continue"}, body)[: -len(body)]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            chunk = sock.recv(1)
            assert chunk, f"closed after {interim!r}"
            interim += chunk
        sock.sendall(body)
        final = b""
        while b"\r\n\r\n" not in final:
            chunk = sock.recv(4096)
            assert chunk, f"closed after {final!r}"
            final += chunk

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200 ")


def test_many_connections_at_once_are_all_answered(server: Server) -> None:
    sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(64)]
    try:
        for sock in sockets:
            sock.sendall(rawhttp.request_bytes("GET", ME))
        for sock in sockets:
            assert sock.recv(4096).startswith(b"HTTP/1.1 401 ")
    finally:
        for sock in sockets:
            sock.close()


def test_405_names_the_allowed_methods(server: Server) -> None:
    response = server.request("DELETE", ME)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
