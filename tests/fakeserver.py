"""A small misbehaving HTTP server for the tests: ``python -m tests.fakeserver [options]``.

Where the reference server answers like Mattermost, this one answers the way a broken or unusual
server does: every login rate-limited, tokens rejected, slow answers.  It counts what it answered
at ``GET /fake/stats`` (not counted itself).  The first line printed is
``fakeserver: listening on URL``; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Locust's clients use it
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/fake/stats":
            with self.server.lock:
                statuses = {str(k): v for k, v in self.server.statuses.items()}
            body = {"answered": sum(statuses.values()), "statuses": statuses}
            self.answer(200, json.dumps(body).encode(), count=False)
            return
        self.api()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.endswith("/users/login"):
            status = self.server.options.login_status
            headers = [("Token", "t" * 26)] if status == 200 else [("Retry-After", "1")]
            self.answer(status, b'{"id": "u"}', headers)
            return
        self.api()

    def api(self) -> None:
        time.sleep(self.server.options.delay)
        self.answer(self.server.options.status, b"{}", self.server.extra)

    def answer(
        self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = (), count: bool = True
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
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
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--login-status", type=int, default=200, help="status of every login")
    p.add_argument("--status", type=int, default=200, help="status of every other request")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each other answer")
    p.add_argument("--header", action="append", default=[], help="'Name: value' on each answer")
    server = FakeServer(p.parse_args())
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"fakeserver: listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
