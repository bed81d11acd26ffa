"""Start ``mmload serve`` as a child process on a free port, and stop it."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from mmload.server import ready as server_ready

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ServerError(RuntimeError):
    pass


def _parent_death_signal() -> Callable[[], None] | None:
    """For ``Popen(preexec_fn=...)``: the child gets SIGTERM when the process that started it
    dies, even of ``kill -9`` (Linux's PR_SET_PDEATHSIG), so that no server or Locust outlives
    ``mmload run``.  Looked up here, not in the forked child, which must not load libraries."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


die_with_parent = _parent_death_signal()


class EmbeddedServer:
    """``with EmbeddedServer(["--per-sec", "5"]) as server: server.url``"""

    def __init__(
        self,
        args: Sequence[str] = (),
        startup_timeout: float = 20.0,
        env: dict[str, str] | None = None,  # MMLOAD_PASSWORD: the seeded users' password
    ) -> None:
        self.args = list(args)
        self.env = env
        self.startup_timeout = startup_timeout
        self.url = ""
        self.hooks: dict[str, str] = {}  # channel name -> hook id
        self.settings = ""  # how it limits, as it says itself: "rate limit 10/s, burst 100, ..."
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> EmbeddedServer:
        cmd = [sys.executable, "-m", "mmload", "serve", "--port", "0", *self.args]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,  # Ctrl-C in the terminal is for the run, not the server
            preexec_fn=die_with_parent,
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(self.startup_timeout) or not self.url:
            self.stop()
            raise ServerError("the reference server did not start:\n" + "\n".join(self.lines[-20:]))
        return self

    def _read(self, ready: threading.Event) -> None:
        """The first line is the server's ready line (JSON); the rest are kept for errors."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            found = server_ready.parse(line) if not self.url else None
            if found is not None:
                self.url, self.settings = found.url, found.limits_text
                self.hooks = {c: url.rsplit("/", 1)[-1] for c, url in found.hooks.items()}
                ready.set()
            del self.lines[:-200]
        ready.set()  # the process ended

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/mmload/stats", timeout=10) as resp:
            data: dict[str, Any] = json.load(resp)
            return data

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
