"""Real hosts on one machine: Linux network namespaces joined by a bridge, each with an address
of its own in 198.18.7.0/24 (of 198.18.0.0/15, reserved for network tests: RFC 2544), so that a
test runs clients, a proxy and a server as separate hosts (root only).

One namespace, the switch, holds a Linux bridge; each host namespace has ``eth0``, one end of a
veth pair whose other end is a port of that bridge, and ``lo`` up.  Nothing is added to this
machine's own namespace: every link lives in the namespaces and goes with them.  Names are
``mm<pid>-<n>-<host>`` (``<n>`` counts the networks of this process), so that concurrent test
sessions never meet.

``with Network(("a", "s")) as net:`` builds it and tears it down on the way out, whatever ends
the block (a failure, KeyboardInterrupt): every process inside its namespaces is stopped
(SIGTERM, then SIGKILL), and the namespaces are deleted, their links with them.  Processes run
inside with ``net.popen(host, argv)`` (``ip netns exec``, which execs the command: the process
is the command itself).  The test process stays outside the network: it reaches into it only
through commands run in a host (``fetch``, ``Host.connects``).

No pytest here; :class:`Unavailable` says why a network cannot be built (not root, no ``ip``,
``ip netns add`` refused), for the tests to skip with.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.nginx import Nginx, NginxError, nginx_command, nginx_conf
from tests.support.server_fixture import Server

SUBNET = "198.18.7"  # a /24 of 198.18.0.0/15: host k of the network is SUBNET.(10 + k)
IP = shutil.which("ip") or "/usr/sbin/ip"  # root's PATH has /usr/sbin; others' may not
COMMAND_TIMEOUT_S = 10.0
STOP_GRACE_S = 3.0
_networks = itertools.count()

# run in a host with ``python -I -S -c``: the standard library only, nothing of the test's
CONNECTS = (
    "import socket, sys\n"
    "socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()\n"
)
FETCH = (
    "import sys, urllib.request\n"
    "with urllib.request.urlopen(sys.argv[1], timeout=10) as r:\n"
    "    sys.stdout.write(r.read().decode())\n"
)


class Unavailable(Exception):
    """No network of namespaces here; the message says why."""


def unavailable() -> str:
    """Why no network can be built here ("" when one may be: ``ip netns add`` is tried then)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not Path(IP).is_file():
        return "no `ip` command (Debian's iproute2)"
    return ""


def ip(*args: str) -> str:
    """``ip *args``; its output, or RuntimeError with what it said."""
    proc = subprocess.run(
        [IP, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def namespaces() -> list[str]:
    """The names of this machine's network namespaces (``ip netns list``)."""
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def pids_in(netns: str) -> list[int]:
    """The processes inside ``netns`` (none when it is gone)."""
    try:
        return [int(pid) for pid in ip("netns", "pids", netns).split()]
    except RuntimeError:
        return []


@dataclass(frozen=True)
class Host:
    name: str  # "a", "s": as the test calls it
    netns: str  # its namespace
    address: str  # of its eth0, in SUBNET.0/24

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host."""
        return [IP, "netns", "exec", self.netns, *argv]

    def connects(self, address: str, port: int) -> bool:
        """Whether a connection from this host to ``address:port`` is accepted now."""
        probe = self.command(sys.executable, "-I", "-S", "-c", CONNECTS, address, str(port))
        return subprocess.run(probe, capture_output=True, timeout=COMMAND_TIMEOUT_S).returncode == 0


def fetch(inside: Sequence[str], url: str) -> str:
    """The body of a GET of ``url`` by a process started with ``inside`` (``ip netns exec``);
    RuntimeError unless a 2xx."""
    get = [*inside, sys.executable, "-I", "-S", "-c", FETCH, url]
    proc = subprocess.run(get, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if proc.returncode != 0:
        said = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise RuntimeError(f"GET {url}: {said}")
    return proc.stdout


class Network:
    """Hosts named ``names`` on one bridge, ``SUBNET.10`` onwards in that order."""

    def __init__(self, names: Sequence[str], stop_grace: float = STOP_GRACE_S) -> None:
        self.stop_grace = stop_grace  # SIGTERM, then this long, then SIGKILL
        self.prefix = f"mm{os.getpid()}-{next(_networks)}-"
        self.switch = self.prefix + "switch"
        self.hosts = {
            name: Host(name, self.prefix + name, f"{SUBNET}.{10 + k}")
            for k, name in enumerate(names)
        }
        self.created: list[str] = []  # namespaces made so far, the switch first
        self.started: list[subprocess.Popen[Any]] = []

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    # building
    def __enter__(self) -> Network:
        why = unavailable()
        if why:
            raise Unavailable(why)
        try:
            self._add_namespace(self.switch)
        except RuntimeError as exc:
            raise Unavailable(f"`ip netns add` failed: {exc}") from None
        try:
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
            for host in self.hosts.values():
                self._add_host(host)
        except BaseException:
            self.teardown()
            raise
        return self

    def _add_namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.created.append(name)

    def _add_host(self, host: Host) -> None:
        """``host``'s namespace, wired to the bridge: the switch's end of its veth pair is named
        after it (at most 15 characters: the kernel's limit)."""
        self._add_namespace(host.netns)
        port = host.netns[-15:]
        veth = f"link add {port} type veth peer name eth0 netns {host.netns}"
        ip("-n", self.switch, *veth.split())
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.netns, "link", "set", "eth0", "up")
        ip("-n", host.netns, "link", "set", "lo", "up")

    # running
    def popen(self, host: Host, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """``argv`` started inside ``host``; stopped at teardown if still running."""
        proc: subprocess.Popen[Any] = subprocess.Popen(host.command(*argv), **kwargs)
        self.started.append(proc)
        return proc

    def serve(self, host: Host, *args: str) -> HostServer:
        """``mmload serve *args`` on ``host``, listening on its address at a free port."""
        server = HostServer.start("--host", host.address, *args, prefix=host.command())
        self.started.append(server.proc)
        return server

    def nginx(self, host: Host, tmp: Path, http: str, port: int = 80) -> HostNginx:
        """nginx on ``host``, from ``http`` (the inside of ``http {}``; it listens on
        ``host.address:port``), once it accepts connections there."""
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "nginx.conf").write_text(nginx_conf(tmp, http))
        proc = self.popen(
            host,
            nginx_command(tmp),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        nginx = HostNginx(proc, tmp, port, host)
        if not nginx.wait_listening():
            raise NginxError(f"nginx did not start on {host.name}:\n{nginx.log()}")
        return nginx

    def stop_processes(self) -> list[str]:
        """Stop every process inside the hosts (SIGTERM, then SIGKILL after ``stop_grace``);
        what was still running, as ``host: pid``."""
        found = {pid: name for name in self.created for pid in pids_in(name)}
        for pid in found:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while time.monotonic() < deadline and any(pids_in(name) for name in self.created):
            time.sleep(0.05)
        deadline = time.monotonic() + STOP_GRACE_S  # SIGKILL is not ignored: only a new one is
        while time.monotonic() < deadline and (
            left := [p for n in self.created for p in pids_in(n)]
        ):
            for pid in left:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.05)
        for proc in self.started:  # reaped, so that none is left a zombie
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_GRACE_S)
        return [f"{name.removeprefix(self.prefix)}: {pid}" for pid, name in found.items()]

    # tearing down
    def teardown(self) -> None:
        """Stop every process inside, delete every namespace (their links go with them)."""
        self.stop_processes()
        for name in reversed(self.created):
            with contextlib.suppress(RuntimeError):  # already gone; leftovers() says what is not
                ip("netns", "del", name)
        self.created.clear()

    def leftovers(self) -> list[str]:
        """Whatever of this network is still here: namespaces, links in this machine's own
        namespace, processes it started."""
        left = [f"namespace {n}" for n in namespaces() if n.startswith(self.prefix)]
        links = ip("-o", "link", "show").splitlines()
        left += [f"link {line.strip()}" for line in links if self.prefix in line]
        left += [f"process {p.pid}" for p in self.started if _alive(p.pid)]
        return left

    def __exit__(self, *exc: object) -> None:
        self.teardown()


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it is only waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


class HostServer(Server):
    """``mmload serve`` inside a host (``prefix`` is the host's ``ip netns exec``): it is
    reached from inside that host, not from the test process."""

    def _wait_answering(self) -> None:
        try:
            self.stats()
        except (RuntimeError, subprocess.SubprocessError, ValueError) as exc:
            self._fail_start(f"announced {self.url} but does not answer there: {exc}")

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads(fetch(self.prefix, self.url + "/mmload/stats"))
        return stats


class HostNginx(Nginx):
    """nginx inside ``host``, listening on its address."""

    def __init__(self, proc: subprocess.Popen[bytes], tmp: Path, port: int, host: Host) -> None:
        super().__init__(proc, tmp, port, host.address)
        self.host = host

    def connects(self) -> bool:
        return self.host.connects(self.address, self.port)
