"""A FastHttpUser's connections, sent from a chosen local address (``--source-ips``).

geventhttpclient has no source-address option.  Its ``UserAgent`` keeps a pool of clients, one
per host and port; each client's ``ConnectionPool`` makes its sockets in ``_create_tcp_socket``
(a factory its ``_create_socket`` documents as the place to override).  ``bind`` replaces the
session's pool of clients with one whose new clients bind every socket to the address before it
connects; requests to a known client take the unchanged path.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from geventhttpclient.client import HTTPClient, HTTPClientPool
from geventhttpclient.url import URL

# Linux: take the port at connect(), from the (address, port) pairs free *for that target*, not
# at bind() from the ones free for every target (28k per address would be the run's ceiling)
BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


class BoundClients(HTTPClientPool):
    """geventhttpclient's pool of clients, whose connections all leave from ``source``."""

    def __init__(self, source: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.source = source

    def get_client(self, url: str | URL) -> HTTPClient:
        if not isinstance(url, URL):
            url = URL(url)
        try:
            return self.clients[url.host, url.port]
        except KeyError:
            client = super().get_client(url)
            pool = client._connection_pool
            pool._create_tcp_socket = _binding(pool._create_tcp_socket, self.source)  # type: ignore[method-assign,assignment]
            return client


def _binding(make: Callable[[int, int, int], Any], source: str) -> Callable[[int, int, int], Any]:
    def bound_socket(family: int, socktype: int, protocol: int) -> Any:
        sock = make(family, socktype, protocol)
        try:
            with contextlib.suppress(OSError):  # an older kernel: bind() takes the port
                sock.setsockopt(socket.IPPROTO_IP, BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        except OSError:
            sock.close()
            raise
        return sock

    return bound_socket


def bind(session: Any, source: str) -> None:
    """Send every request of ``session`` (a FastHttpUser's ``client``) from ``source``: call it
    before the first request."""
    agent = session.client
    agent.clientpool = BoundClients(source, **agent.clientpool.client_args)
