"""What the benches share: nginx from a generated config, the processes they start, and main()'s
error handling.  The benches run as scripts (`python bench/server.py`), so Python puts this folder
on sys.path and they import this file as `common`; mypy, given the folder, resolves it the same way.
nginx's config and command line are the tests' (`tests/support/nginx.py`), so the repository's
root goes on sys.path too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from pathlib import Path
from subprocess import DEVNULL, STDOUT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.nginx import NGINX as NGINX  # the benches import it from here
from tests.support.nginx import free_port, nginx_command, nginx_conf

NGINX_HTTP = """  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location = {path} {{ default_type application/json; alias {tmp}/served.json;{headers} }}
  }}"""


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    MISSING_TOOL = 2  # nginx or wrk is not installed
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class BenchError(Exception):
    pass


class Processes:
    """The processes a bench starts, each logging to a file in the temp dir; all stopped at exit."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str] | None = None,
        cpus: set[int] | None = None,
    ) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``cmd`` logging to a file; ``cpus`` pins it (and its threads) to those CPUs, so
        that the load and its target do not take turns on one core while the other idles."""
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus and _can_pin(cpus) else None
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=STDOUT, stdin=DEVNULL, env=env, preexec_fn=pin
            )
        self.running.append(proc)
        return proc, log

    def stop_all(self) -> None:
        for proc in self.running:
            proc.terminate()  # does nothing once the process has been waited for
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _can_pin(cpus: set[int]) -> bool:
    return hasattr(os, "sched_setaffinity") and cpus <= os.sched_getaffinity(0)


def split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """(CPUs for the load, CPUs for its target): one core each when there are two or more."""
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None, None
    first, second, *_ = sorted(os.sched_getaffinity(0))
    return {first}, {second}


def wait_listening(name: str, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited {proc.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{name} not listening on {port} after 10 s:\n{log.read_text()}")


def start_nginx(
    procs: Processes,
    path: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    cpus: set[int] | None = None,
) -> str:
    """nginx answering GET `path` with `body` (and `headers` on every answer); returns its URL."""
    tmp, port = procs.tmp, free_port()
    (tmp / "served.json").write_bytes(body)
    lines = "".join(f" add_header {k} {v} always;" for k, v in (headers or {}).items())
    http = NGINX_HTTP.format(tmp=tmp, port=port, path=path, headers=lines)
    (tmp / "nginx.conf").write_text(nginx_conf(tmp, http))
    proc, log = procs.start("nginx", nginx_command(tmp), cpus=cpus)
    wait_listening("nginx", proc, port, log)
    return f"http://127.0.0.1:{port}"


def run(bench: Callable[[Processes], str], needs: Sequence[str], install: str) -> Exit:
    """main()'s shape for every bench: check the tools, run `bench` with a temp dir, stop what it
    started whatever happens, then print the line it returns (the result)."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # rounds as they end
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a CI timeout: clean up, even if the
        signal.signal(sig, signal.default_int_handler)  # shell started us with SIGINT ignored
    missing = [tool for tool in needs if not shutil.which(tool)]
    if missing:
        print(f"bench: {', '.join(missing)} not found; run: {install}", file=sys.stderr)
        return Exit.MISSING_TOOL
    with tempfile.TemporaryDirectory(prefix="mmload-bench-") as tmp:
        procs = Processes(Path(tmp))
        try:
            result = bench(procs)
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            print(f"bench: FAILED: {exc}", file=sys.stderr)
            return Exit.FAILED
        except KeyboardInterrupt:
            print("bench: interrupted", file=sys.stderr)
            return Exit.INTERRUPTED
        finally:
            procs.stop_all()
    print(result)
    return Exit.OK


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number from 1 up, not {text!r}")
    return int(text)
