"""``mmload run``: the main job.  Starts the reference server unless ``--host`` is given, drives
Locust with a scenario, and leaves a run folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from mmload.exitcodes import ExitStatus
from mmload.harness import accounts
from mmload.harness.embedded import EmbeddedServer, ServerError
from mmload.harness.options import DEFAULTS
from mmload.harness.scenarios import locustfile
from mmload.results.runfolder import new_run_dir, write_json


@dataclass
class RunOptions:
    host: str = ""
    scenario: str = "hammer"
    users: int = 10
    run_time: str = "30s"
    api: str = DEFAULTS["api"]
    accounts: str = ""
    password: str = ""
    documented_limit: str = DEFAULTS["documented_limit"]
    documented_burst: int = DEFAULTS["documented_burst"]
    out: str = DEFAULTS["out"]
    processes: int = 0
    web: bool = False
    extra: list[str] = field(default_factory=list)


class RunError(Exception):
    def __init__(self, message: str, status: ExitStatus) -> None:
        super().__init__(message)
        self.status = status


def check_host(url: str) -> None:
    """A clear error now beats a run of connection errors."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RunError(f"--host {url!r} is not an http(s) URL like http://127.0.0.1:8065",
                       ExitStatus.USAGE)  # fmt: skip
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise RunError(
            f"cannot reach {url}: {exc.strerror or exc}", ExitStatus.RUN_FAILED
        ) from None


def locust_command(o: RunOptions, host: str, run_dir: Path, hook_id: str) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile(o.scenario)),
        "--host", host, "-u", str(o.users), "-r", str(o.users), "-t", o.run_time,
        "--exit-code-on-error", "0",
        "--api", o.api, "--documented-limit", o.documented_limit,
        "--documented-burst", str(o.documented_burst), "--run-dir", str(run_dir),
    ]  # fmt: skip
    if o.accounts:
        cmd += ["--accounts", o.accounts]
    elif not o.host:
        cmd += ["--accounts", str(min(o.users, 100))]
    if hook_id:
        cmd += ["--hook-id", hook_id]
    if o.processes:
        cmd += ["--processes", str(o.processes)]
    cmd += ["--web-host", "127.0.0.1", "--autostart"] if o.web else ["--headless", "--only-summary"]
    return cmd + o.extra


def run(o: RunOptions, out: TextIO, err: TextIO) -> ExitStatus:
    if o.host:
        check_host(o.host)
    if o.accounts:
        try:
            accounts.resolve(o.accounts)
        except accounts.AccountsError as exc:
            raise RunError(str(exc), ExitStatus.USAGE) from None
    run_dir = new_run_dir(o.out, o.scenario)
    server: EmbeddedServer | None = None
    try:
        if not o.host:
            server = EmbeddedServer(["--accounts", str(max(100, o.users))]).start()
            print(f"mmload run: reference server at {server.url} (10/s, burst 100, by address)",
                  file=err)  # fmt: skip
        host = o.host or (server.url if server else "")
        hook_id = next(iter(server.hooks.values()), "") if server else ""
        cmd = locust_command(o, host, run_dir, hook_id)
        env = dict(os.environ)
        if o.password:
            env["MMLOAD_PASSWORD"] = o.password  # not on the command line, where ps shows it
        print(f"mmload run: {o.scenario} with {o.users} users for {o.run_time} against {host}",
              file=err, flush=True)  # fmt: skip
        code = _run_locust(cmd, env)
        if server is not None and run_dir.exists():
            write_json(run_dir / "server.json", server.stats())
    except ServerError as exc:
        raise RunError(str(exc), ExitStatus.RUN_FAILED) from None
    finally:
        if server is not None:
            server.stop()
    if not (run_dir / "run.json").exists():
        raise RunError(f"Locust exited with code {code} before writing a run folder",
                       ExitStatus.RUN_FAILED)  # fmt: skip
    print(run_dir, file=out, flush=True)
    if code == ExitStatus.RUN_FAILED:
        return ExitStatus.RUN_FAILED
    if code != 0:
        print(f"mmload run: Locust exited with code {code}", file=err)
        return ExitStatus.RUN_FAILED
    return ExitStatus.OK


def _run_locust(cmd: list[str], env: dict[str, str]) -> int:
    """Ctrl-C becomes SIGTERM for Locust: its graceful shutdown lets users finish the request
    they are in (a SIGINT interrupts them, and those requests would be missing from the totals).
    """
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)

    def stop(*_: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    previous_int = signal.signal(signal.SIGINT, stop)
    previous_term = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
