"""Requests outside the user's client (:mod:`mmload.harness.raw_http`): HTTP/1.0 as old clients
send it, over TLS verified as the user's client verifies (Locust's: not at all), without the
user's auth when asked, and every answer (or its absence) fired as Locust's request event, so
the collector records it."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mmload.harness import raw_http


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str]]] = []  # noqa: RUF012  (request line, headers)
    status = 200

    def do_GET(self) -> None:
        Recorder.seen.append((self.requestline, dict(self.headers)))
        body = b'{"id": "x"}'
        self.send_response(Recorder.status)
        self.send_header("X-Ratelimit-Remaining", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def serving(tls: ssl.SSLContext | None = None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def plain() -> Iterator[str]:
    Recorder.seen, Recorder.status = [], 200
    yield from serving()


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[str]:
    """A server with a self-signed certificate (made by openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=mmload-test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    Recorder.seen, Recorder.status = [], 200
    yield from serving(tls)


def user(host: str, fired: list[dict[str, Any]], insecure: bool = True) -> Any:
    events = SimpleNamespace(request=SimpleNamespace(fire=lambda **kw: fired.append(kw)))
    return SimpleNamespace(
        host=host,
        settings=SimpleNamespace(request_timeout=5.0),
        auth={"Authorization": "Bearer secret-token"},
        environment=SimpleNamespace(events=events),
        context=lambda: {"who": "the user"},
        limited=lambda answer: answer.status_code == 429,
        insecure=insecure,
    )


def test_http_1_0_goes_out_as_old_clients_send_it(plain: str) -> None:
    fired: list[dict[str, Any]] = []
    answer = raw_http.send(user(plain, fired), "GET", "/api/v4/users/me", "GET me", {}, http10=True)
    assert answer.status_code == 200 and answer.headers.get("x-ratelimit-remaining") == "7"
    [(line, headers)] = Recorder.seen
    assert line == "GET /api/v4/users/me HTTP/1.0" and "Host" not in headers
    assert headers["Authorization"] == "Bearer secret-token"
    [event] = fired
    assert event["name"] == "GET me" and event["response"] is answer and event["exception"] is None
    assert event["context"] == {"who": "the user"} and event["response_time"] > 0


def test_a_new_client_sends_no_auth_and_a_refusal_is_named_as_the_client_names_it(
    plain: str,
) -> None:
    fired: list[dict[str, Any]] = []
    Recorder.status = 429
    body = {"login_id": "u", "password": "p"}
    answer = raw_http.send(
        user(plain, fired),
        "POST",
        "/api/v4/users/login",
        "POST login",
        {},
        body=body,
        auth=False,
        context={"who": "nobody"},
    )
    assert answer.status_code == 429
    [(line, headers)] = Recorder.seen
    assert line.endswith("HTTP/1.1") and "Authorization" not in headers and "Cookie" not in headers
    [event] = fired
    assert event["name"] == "POST login [429 limited]" and event["context"] == {"who": "nobody"}


def test_an_error_status_is_a_failure_unless_told_otherwise(plain: str) -> None:
    fired: list[dict[str, Any]] = []
    Recorder.status = 401
    raw_http.send(user(plain, fired), "GET", "/x", "GET x", {})
    raw_http.send(user(plain, fired), "GET", "/x", "GET x", {}, failure=False)
    assert [type(e["exception"]).__name__ for e in fired] == ["HttpError", "NoneType"]


def test_tls_is_verified_as_the_users_client_verifies(secure: str) -> None:
    fired: list[dict[str, Any]] = []
    answer = raw_http.send(user(secure, fired), "GET", "/x", "GET x", {}, http10=True)
    assert answer.status_code == 200  # Locust's FastHttpUser is insecure: a self-signed cert
    refused = raw_http.send(user(secure, fired, insecure=False), "GET", "/x", "GET x", {})
    assert refused.status_code == 0 and isinstance(fired[-1]["exception"], ssl.SSLError)


def test_no_answer_is_status_0_and_an_error_recorded() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nobody listens there
    fired: list[dict[str, Any]] = []
    answer = raw_http.send(user(f"http://127.0.0.1:{port}", fired), "GET", "/x", "GET x", {})
    assert answer.status_code == 0 and isinstance(fired[0]["exception"], ConnectionRefusedError)
