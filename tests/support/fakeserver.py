"""A small misbehaving HTTP server for the tests: ``python -m tests.support.fakeserver [options]``.

Where the reference server answers like Mattermost, this one answers the way a broken or unusual
server does: every login rate-limited or without a ``Token``, tokens rejected, slow answers,
garbage or enormous headers, bodies that are not JSON, connections reset in the middle of an
answer.  ``GET /fake/stats`` (not counted itself) says what it received and answered, the tokens
it issued and the passwords it was sent (so a test can look for them where they must not be).
The first line printed is ``fakeserver: listening on URL``; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ISSUED = "issued"  # --login-token: a fresh random token per login


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Locust's clients use it
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):  # a client that gave up
            super().handle()

    def do_GET(self) -> None:
        if self.path == "/fake/stats":
            self.answer(200, json.dumps(self.server.stats()).encode(), count=False)
            return
        self.server.count("received")
        self.api()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.count("received")
        if self.path.endswith("/users/login"):
            self.login(body)
            return
        self.api()

    def login(self, body: bytes) -> None:
        options = self.server.options
        try:
            password = str(json.loads(body).get("password"))
        except (ValueError, AttributeError):
            password = ""
        headers: list[tuple[str, str]] = [("Retry-After", "1")]
        if options.login_status == 200:
            token = secrets.token_urlsafe(20) if options.login_token == ISSUED else ""
            token = token or options.login_token
            headers = [("Token", token)] if token else []
            with self.server.lock:
                self.server.passwords.append(password)
                self.server.tokens.extend([token] if token else [])
        self.answer(options.login_status, b'{"id": "u"}', headers)

    def api(self) -> None:
        options = self.server.options
        time.sleep(options.delay)
        if options.reset_every and self.server.count("api") % options.reset_every == 0:
            self.reset()
            return
        self.answer(options.status, options.body.encode(), self.server.extra)

    def reset(self) -> None:
        """Half an answer, then a TCP reset (RST, not FIN) on the connection."""
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.server.count("reset")

    def answer(
        self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = (), count: bool = True
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", self.server.options.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        if count:
            with self.server.lock:
                self.server.statuses[status] += 1


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, options: argparse.Namespace) -> None:
        super().__init__(("127.0.0.1", options.port), Handler)
        self.options = options
        self.extra = [(h.split(": ", 1)[0], h.split(": ", 1)[-1]) for h in options.header]
        for spec in options.big_header:
            name, _, size = spec.partition("=")
            self.extra.append((name, "9" * int(size)))
        self.statuses: Counter[int] = Counter()
        self.counts: Counter[str] = Counter()
        self.tokens: list[str] = []
        self.passwords: list[str] = []
        self.lock = threading.Lock()

    def count(self, what: str) -> int:
        with self.lock:
            self.counts[what] += 1
            return self.counts[what]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            statuses = {str(k): v for k, v in self.statuses.items()}
            return {
                "answered": sum(statuses.values()),
                "statuses": statuses,
                "received": self.counts["received"],
                "resets": self.counts["reset"],
                "tokens": list(self.tokens),
                "passwords": list(self.passwords),
            }

    def shutdown_request(self, request: Any) -> None:
        """Close without the FIN that ``shutdown`` sends first: a reset stays a reset."""
        self.close_request(request)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--login-status", type=int, default=200, help="status of every login")
    p.add_argument(
        "--login-token",
        default="t" * 26,
        help=f"every login's Token ('' for none, {ISSUED!r}: a new one each)",
    )
    p.add_argument("--status", type=int, default=200, help="status of every other request")
    p.add_argument("--body", default="{}", help="body of every other answer")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each other answer")
    p.add_argument("--header", action="append", default=[], help="'Name: value' on each answer")
    p.add_argument(
        "--big-header",
        action="append",
        default=[],
        metavar="NAME=BYTES",
        help="a header of that many digits on each answer",
    )
    p.add_argument(
        "--reset-every",
        type=int,
        default=0,
        metavar="N",
        help="every Nth answer other than a login is cut short by a reset",
    )
    server = FakeServer(p.parse_args())
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"fakeserver: listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
