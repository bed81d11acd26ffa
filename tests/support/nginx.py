"""nginx (Debian's package) as the tests and the benches run it: a config, pid file and logs of its
own in a temp dir, one process in the foreground (``daemon off; master_process off;``), listening
on 127.0.0.1 and a free port (or where the caller says: ``tests/support/netns.py``).

``proxy_http`` writes what the tests put in front of reference servers: an ``upstream`` of them
(round-robin, or ``ip_hash`` for sticky balancing) and, optionally, ``limit_req`` with
``limit_req_status 429``, or without it (nginx's default: 503); and the client's address passed on
in ``X-Real-IP`` (the realip module trusting only the addresses named).  The limit is in a
location that proxies: nginx's ``return`` runs in the rewrite phase, before ``limit_req``'s
preaccess phase, so a location that answers with ``return`` is never limited.

No pytest here: the benches import this module too (``bench/common.py``).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

NGINX = "/usr/sbin/nginx"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and nginx binding it

CONF = """daemon off; master_process off; worker_processes 1;
error_log {tmp}/error.log; pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
{http}
}}
"""

PROXY = """  {zone}
  upstream mattermost {{ {balance}{servers} keepalive 16; }}
  server {{
    listen {address}:{port};
    {real_ip}
    location / {{
      {limit}
      proxy_pass http://mattermost;
      proxy_http_version 1.1; proxy_set_header Connection "";{forward}
    }}
  }}"""


class NginxError(Exception):
    pass


@dataclass(frozen=True)
class Limit:
    """``limit_req`` by client address: ``per_sec`` requests a second, ``burst`` more at once
    (``nodelay``: refused, not queued, beyond it), refused with ``status`` (``limit_req_status``;
    None: nginx's default, 503)."""

    per_sec: int
    burst: int
    status: int | None = 429


def nginx_conf(tmp: Path, http: str) -> str:
    """A whole config whose files all live in ``tmp``; ``http`` is the inside of ``http {}``."""
    return CONF.format(tmp=tmp, http=http)


def nginx_command(tmp: Path) -> list[str]:
    return [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proxy_http(
    port: int,
    backends: Sequence[str],
    limit: Limit | None = None,
    sticky: bool = False,
    address: str = "127.0.0.1",
    real_ip_from: Sequence[str] = (),
    real_ip_header: str = "X-Real-IP",
) -> str:
    """nginx on ``address:port`` in front of ``backends`` (``http://host:port`` each):
    round-robin, or by client address with ``sticky`` (``ip_hash``); limiting every route when
    ``limit`` says how.  With ``real_ip_from``, the client's address goes on in ``X-Real-IP``
    (whatever the client sent in it is replaced), and a request's own ``X-Real-IP`` is believed
    only from those addresses (the realip module): a proxy Mattermost may key on that header.
    ``real_ip_header``: the header the client's address is read from (nginx takes the last
    address of an ``X-Forwarded-For``); ``limit_req`` keys on the address it makes."""
    zone, limit_req, real_ip, forward = "", "", "", ""
    if real_ip_from:
        real_ip = " ".join(f"set_real_ip_from {a};" for a in real_ip_from)
        real_ip += f" real_ip_header {real_ip_header};"
        forward = " proxy_set_header X-Real-IP $remote_addr;"
    if limit is not None:
        zone = f"limit_req_zone $binary_remote_addr zone=api:1m rate={limit.per_sec}r/s;"
        if limit.status is not None:
            zone += f" limit_req_status {limit.status};"
        burst = f" burst={limit.burst}" if limit.burst else ""  # nginx refuses "burst=0"
        limit_req = f"limit_req zone=api{burst} nodelay;"
    servers = " ".join(f"server {url.removeprefix('http://')};" for url in backends)
    return PROXY.format(
        zone=zone,
        balance="ip_hash; " if sticky else "",
        servers=servers,
        address=address,
        port=port,
        real_ip=real_ip,
        limit=limit_req,
        forward=forward,
    )


class Nginx:
    """One nginx process, from the config ``http(port)`` makes; ``stop()`` ends it."""

    def __init__(
        self, proc: subprocess.Popen[bytes], tmp: Path, port: int, address: str = "127.0.0.1"
    ) -> None:
        self.proc, self.tmp, self.port, self.address = proc, tmp, port, address
        self.url = f"http://{address}:{port}"

    @classmethod
    def start(cls, tmp: Path, http: Callable[[int], str]) -> Nginx:
        """Write the config to ``tmp``, start nginx, return once it accepts connections."""
        tmp.mkdir(parents=True, exist_ok=True)
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            (tmp / "nginx.conf").write_text(nginx_conf(tmp, http(port)))
            proc = subprocess.Popen(
                nginx_command(tmp),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            nginx = cls(proc, tmp, port)
            if nginx.wait_listening():
                return nginx
            if "Address already in use" not in nginx.log():
                break
        raise NginxError(f"{NGINX} did not start:\n{nginx.log()}")

    def wait_listening(self) -> bool:
        """Whether it accepts connections within START_TIMEOUT_S (False: it exited or hung)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.connects():
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def connects(self) -> bool:
        """Whether a connection to its address and port is accepted now."""
        try:
            socket.create_connection((self.address, self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
