"""The real ``mmload serve`` process, on port 0, for one test; always stopped afterwards.

``Server.start(*args)`` runs ``python -m mmload serve --port 0 *args``, waits for its ready line
(JSON, the first line: :mod:`mmload.server.ready`) and for one answered request, so the signal
handlers are installed when a test sends SIGINT or SIGTERM.  ``prefix`` runs it through another
command (``ip netns exec NAME``, which execs it: the process is still the server).
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any, NoReturn, Self
from urllib.parse import urlsplit

import pytest
import requests

from mmload.server import ready

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PASSWORD = "mmload-pass"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 10.0


class Server:
    """One server process.  ``get``/``post`` go through one keep-alive ``requests.Session``."""

    def __init__(self, args: tuple[str, ...], prefix: Sequence[str] = ()) -> None:
        self.args, self.prefix = args, tuple(prefix)
        self.command = [*prefix, sys.executable, "-m", "mmload", "serve", "--port", "0", *args]
        # a file, not a pipe: a chatty server can never block on it; close() closes it
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []  # every stdout line so far
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.session = requests.Session()
        # no cookie jar: a test sends a token only where it says so (logins set MMAUTHTOKEN)
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.returncode: int | None = None
        self.url = ""
        self.hooks: dict[str, str] = {}  # channel name -> hook URL
        self.ready: ready.Ready | None = None  # what its ready line said

    @classmethod
    def start(cls, *args: str, prefix: Sequence[str] = ()) -> Self:
        server = cls(args, prefix)
        try:
            server._wait_announced()
            server._wait_answering()
        except BaseException:
            server.kill()
            server.close()
            raise
        return server

    # starting
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _next_line(self, deadline: float, waiting_for: str) -> str:
        timed_out = False
        try:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line, timed_out = None, True
        if timed_out:  # failing outside the except: no "during handling" noise in the report
            self._fail_start(f"printed no {waiting_for} within {START_TIMEOUT_S:g} s")
        if line is None:
            self.proc.wait(STOP_TIMEOUT_S)
            self._fail_start(f"exited with {self.proc.returncode} before {waiting_for}")
        self.lines.append(line)
        return line

    def _wait_announced(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        first = self._next_line(deadline, "ready line")
        found = ready.parse(first)
        if found is None:
            self._fail_start(f"printed {first!r} first, not its ready line (JSON)")
        self.url, self.ready = found.url, found
        self.hooks = dict(found.hooks)

    def _wait_answering(self) -> None:
        try:
            response = self.session.get(self.url + "/mmload/stats", timeout=START_TIMEOUT_S)
        except requests.RequestException as exc:
            self._fail_start(f"announced {self.url} but does not answer there: {exc}")
        if response.status_code != 200:
            self._fail_start(f"answered /mmload/stats with {response.status_code}")

    def _fail_start(self, why: str) -> NoReturn:
        self.kill()
        pytest.fail(
            f"{' '.join(self.command)} {why}\n"
            f"--- stdout ---\n{self.stdout()}\n--- stderr ---\n{self.stderr()}",
            pytrace=False,
        )

    # talking to it
    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 0

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        return self.session.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def login(self, username: str = "user1", password: str = DEFAULT_PASSWORD) -> str:
        """Log in through v4 and return the token; fails the test unless it is a 200."""
        response = self.post(
            "/api/v4/users/login", json={"login_id": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.headers["Token"]

    def stats(self) -> dict[str, Any]:
        response = requests.get(self.url + "/mmload/stats", timeout=REQUEST_TIMEOUT_S)
        assert response.status_code == 200, response.text
        stats: dict[str, Any] = response.json()
        return stats

    # stopping
    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` and return the exit code; kill it if it outlives ``timeout``."""
        if self.returncode is None:
            self.session.close()
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
            self._reader.join(STOP_TIMEOUT_S)
            self._drain_lines()
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        self.session.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.returncode = self.proc.wait(STOP_TIMEOUT_S)

    def _drain_lines(self) -> None:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.lines.append(line)

    def stdout(self) -> str:
        self._drain_lines()
        return "\n".join(self.lines)

    def stderr(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read()
        self._stderr.seek(0, 2)
        return text

    def close(self) -> None:
        self._stderr.close()
        if self.proc.stdout:
            self.proc.stdout.close()


ServeFactory = Callable[..., Server]  # the ``serve`` fixture: start(*args) -> a running server
