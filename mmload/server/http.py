"""A small, fast HTTP/1.1 server: asyncio transports, the httptools (llhttp) parser.

Handlers are plain synchronous functions ``Request -> Response``; requests on one connection are
answered in order (pipelining works).  Malformed HTTP gets a 400 and the connection is closed;
oversized bodies get a 413.  asyncio sets TCP_NODELAY, so no Nagle stall.
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qs, unquote_to_bytes

import httptools

MAX_BODY_BYTES = 1 << 20
MAX_HEAD_BYTES = 1 << 20  # request line and headers, like Go's net/http DefaultMaxHeaderBytes


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    remote_addr: str

    def query_params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query).items()}


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Response]


class _Date:
    """The ``Date`` header, formatted once a second."""

    second = -1
    value = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.value = second, formatdate(second, usegmt=True).encode()
        return cls.value


_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


def encode(resp: Response, keep_alive: bool, head: bool = False) -> bytes:
    extra = "".join([f"{k}: {v}\r\n" for k, v in resp.headers])
    head_bytes = (
        b"HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n"
        % (
            resp.status,
            _REASONS.get(resp.status, b"Unknown"),
            _Date.now(),
            resp.content_type.encode(),
            len(resp.body),
            extra.encode("latin-1"),
            b"" if keep_alive else b"Connection: close\r\n",
        )
    )
    return head_bytes if head else head_bytes + resp.body


def plain_error(status: int, detail: str) -> Response:
    """The default answer to a request the server cannot take (400, 413, 431, 500)."""
    text = f"{status} {_REASONS.get(status, b'Error').decode()}: {detail}\n"
    return Response(status, text.encode(), "text/plain; charset=utf-8")


ErrorHandler = Callable[[int, str], Response]


class HTTPProtocol(asyncio.Protocol):
    def __init__(
        self,
        handler: Handler,
        on_error: ErrorHandler = plain_error,
        max_body: int = MAX_BODY_BYTES,
        max_head: int = MAX_HEAD_BYTES,
    ) -> None:
        self.handler = handler
        self.on_error = on_error
        self.max_body = max_body
        self.max_head = max_head
        self.head_len = 0
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.remote_addr = ""
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_len = 0
        self.closing = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        peer = transport.get_extra_info("peername")
        self.remote_addr = peer[0] if peer else ""

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._close()
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def pause_writing(self) -> None:
        if self.transport:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport and not self.closing:
            self.transport.resume_reading()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        if not self.closing:
            self.url += url

    def _count_head(self, n: int) -> None:
        self.head_len += n
        if self.head_len > self.max_head and not self.closing:
            self._fail(431, f"the request line and headers are larger than {self.max_head} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        if self.closing:
            return
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self.headers.get(key)
        self.headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        headers = self.headers
        if "content-length" not in headers and "expect" not in headers:
            return  # the usual GET: nothing to check
        length = headers.get("content-length", "0")
        if length.isdigit() and int(length) > self.max_body:
            self._fail(413, f"the body is larger than {self.max_body} bytes")
        elif self.headers.get("expect", "").lower() == "100-continue" and self.transport:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_len += len(body)
        if self.body_len > self.max_body:
            self._fail(413, f"the body is larger than {self.max_body} bytes")
        elif not self.closing:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closing or self.transport is None:
            return
        target = self.url
        if not target.startswith(b"/"):  # absolute-form or junk: let the URL parser decide
            try:
                url = httptools.parse_url(target)
                target = (url.path or b"/") + (b"?" + url.query if url.query else b"")
            except httptools.HttpParserInvalidURLError:
                self._fail(400, "malformed URL")
                return
        path, _, query = target.partition(b"?")
        method = self.parser.get_method().decode("latin-1")
        request = Request(
            method,
            (unquote_to_bytes(path) if b"%" in path else path).decode("utf-8", "replace"),
            query.partition(b"#")[0].decode("utf-8", "replace"),
            self.headers,
            b"".join(self.body),
            self.remote_addr,
        )
        try:
            response = self.handler(request)
        except Exception:  # a handler bug must not take the server down
            traceback.print_exc(file=sys.stderr)
            response = self.on_error(500, "internal error")
        self.url, self.headers, self.body, self.body_len, self.head_len = b"", {}, [], 0, 0
        keep_alive = self.parser.should_keep_alive()
        self.transport.write(encode(response, keep_alive, head=method == "HEAD"))
        if not keep_alive:
            self._close()

    def _fail(self, status: int, detail: str) -> None:
        if self.transport and not self.closing:
            self.transport.write(encode(self.on_error(status, detail), keep_alive=False))
        self._close()

    def _close(self) -> None:
        self.closing = True
        if self.transport:
            self.transport.close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
