"""HTTP/1.1 over a bare socket: pipelined bursts, malformed requests, chosen source addresses.

``requests`` cannot send garbage or pipeline, and it waits for each answer: a burst sent with
:func:`burst` reaches the server in one write, so a limiter barely refills while deciding it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass, field

TIMEOUT_S = 10.0


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes

    def header_int(self, name: str) -> int:
        return int(self.headers[name.lower()])


@dataclass
class Exchange:
    responses: list[RawResponse] = field(default_factory=list)
    closed: bool = False  # the server closed the connection
    elapsed_s: float = 0.0  # from the first byte sent to the last response read

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.responses]


def request_bytes(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    framed = {name.lower() for name in headers or {}} & {"content-length", "transfer-encoding"}
    if (body or method in ("POST", "PUT")) and not framed:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _parse_one(buffer: bytearray) -> RawResponse | None:
    """Take one complete response off the front of ``buffer`` (None: need more bytes)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    status_line, *header_lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length", "0"))
    if len(buffer) < end + 4 + length:
        return None
    body = bytes(buffer[end + 4 : end + 4 + length])
    del buffer[: end + 4 + length]
    return RawResponse(int(status_line.split(" ", 2)[1]), headers, body)


def exchange(
    port: int,
    data: bytes,
    expect: int | None = None,
    source: str | None = None,
    timeout: float = TIMEOUT_S,
) -> Exchange:
    """Send ``data`` on a new connection to 127.0.0.1 and read what comes back.

    With ``expect``, stop once that many responses are read; without, read until the server
    closes the connection.  Either way a silent server fails the test after ``timeout``.
    """
    result = Exchange()
    buffer = bytearray()
    address = (source, 0) if source else None
    with socket.create_connection(("127.0.0.1", port), timeout, address) as sock:
        started = time.monotonic()
        # the server may refuse before reading everything: then read what it said
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        while expect is None or len(result.responses) < expect:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            except TimeoutError:
                raise AssertionError(
                    f"no answer and no close within {timeout:g} s; "
                    f"{len(result.responses)} responses read, pending {bytes(buffer[:200])!r}"
                ) from None
            if not chunk:
                result.closed = True
                break
            buffer += chunk
            while (response := _parse_one(buffer)) is not None:
                result.responses.append(response)
        result.elapsed_s = time.monotonic() - started
    assert not buffer or result.closed, f"unparsed bytes left: {bytes(buffer[:200])!r}"
    return result


def burst(
    port: int,
    count: int,
    path: str = "/api/v4/users/me",
    headers: dict[str, str] | None = None,
    source: str | None = None,
) -> Exchange:
    """``count`` pipelined GETs in one write; every answer is read before returning."""
    assert count <= 500, "larger bursts could fill both socket buffers before we read"
    result = exchange(port, request_bytes("GET", path, headers) * count, count, source)
    assert len(result.responses) == count, f"{count} requests sent, {result.statuses} answered"
    return result
