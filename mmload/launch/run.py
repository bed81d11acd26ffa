"""``mmload run``: the main job.  Starts the reference server unless ``--host`` is given, drives
Locust with a scenario, and leaves a run folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from mmload import defaults
from mmload.exitcodes import ExitStatus
from mmload.harness import accounts
from mmload.harness.scenarios import AUTHENTICATED, USES, acts_on, locustfile
from mmload.launch.embedded import EmbeddedServer, ServerError, die_with_parent
from mmload.options import (
    DEFAULTS,
    HOOK_ID_ENV,
    PROMETHEUS_HOST,
    SCENARIO_ONLY,
    Given,
    cannot_listen,
    refusal,
    status_list,
)
from mmload.results.folder import RUN_JSON, SERVER_JSON, new_run_dir, write_json

REFERENCE_MARK = ".mmload."  # in the X-Version-Id of `mmload serve`: 10.5.0.mmload.<hash>.false


@dataclass
class RunOptions:
    host: str = ""
    scenario: str = "hammer"
    users: int = 10
    run_time: str = "30s"
    api: str = ""  # "" (not given): DEFAULTS["api"]
    accounts: str = ""
    password: str = ""  # "" (not given): MMLOAD_PASSWORD, or the seeded default
    documented_limit: list[str] | None = None  # rates and routes' rates; none: Mattermost's
    documented_burst: int | None = None
    vary_by: str = DEFAULTS["vary_by"]
    rate_factor: float | None = None
    step_time: float | None = None
    hook_id: str = ""
    request_timeout: float = DEFAULTS["request_timeout"]
    tolerance: float = DEFAULTS["tolerance"]
    strict: bool = False
    expect: str = ""
    out: str = DEFAULTS["out"]
    processes: int = 0
    source_ips: str | None = None  # checked by its argparse type: loopback or this machine's
    limited_status: tuple[int, ...] = DEFAULTS["limited_status"]  # the refusals: 429
    run_dir: str = ""  # the run folder exactly ("": a new one under out)
    max_records: int | None = None  # per-request records kept (None: the plugin's default)
    prometheus_port: int | None = None  # serve the run's metrics there (the master's process)
    prometheus_host: str | None = None
    prometheus_linger: float | None = None
    web: bool = False
    web_host: str = "127.0.0.1"  # where the web UI listens (--web): this machine only
    web_linger: float = 10.0  # --web: seconds the UI stays up once the run time is over
    server_args: list[str] = field(default_factory=list)  # for the embedded `mmload serve`
    extra: list[str] = field(default_factory=list)


class RunError(Exception):
    def __init__(self, message: str, status: ExitStatus) -> None:
        super().__init__(message)
        self.status = status


def usage(message: str) -> RunError:
    return RunError(message, ExitStatus.USAGE)


def check_host(url: str) -> None:
    """A clear error now beats a run of connection errors."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise usage(f"--host {url!r} is not an http(s) URL like http://127.0.0.1:8065")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as exc:
        raise RunError(
            f"cannot reach {url}: {exc.strerror or exc}", ExitStatus.RUN_FAILED
        ) from None


def is_reference_server(url: str) -> bool:
    """Whether ``url`` answers as ``mmload serve`` does (one request, to its stats page, which
    is never rate-limited)."""
    try:
        with urllib.request.urlopen(url + "/mmload/stats", timeout=5) as resp:
            return REFERENCE_MARK in resp.headers.get("X-Version-Id", "")
    except urllib.error.HTTPError as exc:
        return REFERENCE_MARK in (exc.headers.get("X-Version-Id") or "")
    except (OSError, ValueError):
        return False


def check_options(o: RunOptions, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse what would be ignored or would log in with credentials nobody gave."""
    password = "set" if o.password or environ.get("MMLOAD_PASSWORD") else ""
    values = {d: getattr(o, d) for d in SCENARIO_ONLY}
    values |= {"api": o.api, "accounts": o.accounts, "password": password}
    given = [d for d, value in values.items() if value is not None and value != ""]
    has_hook = bool(o.hook_id) or not o.host  # the embedded server has hooks to post to
    exit_code = next((a for a in o.extra if a.split("=", 1)[0] == "--exit-code-on-error"), None)
    message = refusal(
        Given(
            {o.scenario: acts_on(o.scenario)},
            tuple(given),
            o.api or DEFAULTS["api"],
            has_hook,
            o.vary_by,
            o.documented_limit,
            o.prometheus_port,
            o.prometheus_host,
            o.prometheus_linger,
            exit_code,
            distributed=bool(o.processes),
        )
    )
    if not message and o.run_dir and not _fresh_folder(Path(o.run_dir)):
        message = (
            f"--run-dir {o.run_dir}: not a new or empty folder (a run folder is never "
            "written into another's)"
        )
    if not message and o.prometheus_port is not None:
        host = o.prometheus_host or PROMETHEUS_HOST
        message = cannot_listen("--prometheus-port", host, o.prometheus_port)
    if message:
        raise usage(message)
    if o.scenario not in AUTHENTICATED:
        return
    if o.host and not o.accounts:
        raise usage(f"--host needs --accounts: {accounts.REQUIRED}")
    if o.host and password and o.accounts and not accounts.is_seeded(o.accounts):
        raise usage(accounts.FILE_PASSWORDS)  # without --host, it is the embedded server's
    if o.accounts:
        try:
            accounts.resolve(o.accounts)
        except accounts.AccountsError as exc:
            raise usage(str(exc)) from None
    if o.host and accounts.is_seeded(o.accounts) and not is_reference_server(o.host):
        raise usage(
            f"--accounts {o.accounts} means the reference server's seeded user1..user"
            f"{o.accounts}, and {o.host} is not an mmload reference server: give a CSV file "
            "of the accounts to log in with"
        )


def _fresh_folder(path: Path) -> bool:
    """A folder that does not exist yet, or an empty one."""
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def locust_command(o: RunOptions, host: str, run_dir: Path) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile(o.scenario)),
        "--host",
        host,
        "-u",
        str(o.users),
        "-r",
        str(o.users),
        "-t",
        o.run_time,
        "--run-dir",
        str(run_dir),
        "--vary-by",
        o.vary_by,
        "--request-timeout",
        f"{o.request_timeout:g}",
        "--tolerance",
        f"{o.tolerance:g}",
        "--limited-status",
        status_list(o.limited_status),
    ]
    if o.scenario in AUTHENTICATED:
        cmd += ["--api", o.api or DEFAULTS["api"], "--accounts", _locust_accounts(o)]
    if o.strict:
        cmd.append("--strict")
    if o.expect:
        cmd += ["--expect", o.expect]
    for limit in o.documented_limit or ():
        cmd += ["--documented-limit", limit]
    for flag, value in (
        ("--rate-factor", o.rate_factor),
        ("--step-time", o.step_time),
        ("--documented-burst", o.documented_burst),
    ):
        if value is not None:
            cmd += [flag, value if isinstance(value, str) else f"{value:g}"]
    if o.processes:
        cmd += ["--processes", str(o.processes), *_master_port(o.extra)]
    if o.source_ips:
        cmd += ["--source-ips", o.source_ips]
    if o.max_records is not None:
        cmd += ["--max-records", str(o.max_records)]
    if o.prometheus_port is not None:
        cmd += ["--prometheus-port", str(o.prometheus_port)]
    if o.prometheus_host is not None:
        cmd += ["--prometheus-host", o.prometheus_host]
    if o.prometheus_linger is not None:
        cmd += ["--prometheus-linger", f"{o.prometheus_linger:g}"]
    if o.web:  # the run time over, the UI stays web_linger seconds, then the run ends as headless
        linger = str(max(0, round(o.web_linger)))
        cmd += ["--web-host", o.web_host, "--autostart", "--autoquit", linger]
    else:
        cmd += ["--headless", "--only-summary"]
    return cmd + o.extra


def _locust_accounts(o: RunOptions) -> str:
    return o.accounts or str(min(o.users, defaults.SEEDED_ACCOUNTS))


def locust_env(o: RunOptions) -> tuple[dict[str, str], dict[str, str]]:
    """The environments of the embedded server and of Locust.  The password (--password, else
    MMLOAD_PASSWORD) goes in the environment, not on the command line, where ps shows it; Locust
    gets it only to log in to seeded accounts (with a FILE, it is the embedded server's alone)."""
    env = dict(os.environ)
    if o.password:
        env["MMLOAD_PASSWORD"] = o.password
    seeded = o.scenario in AUTHENTICATED and accounts.is_seeded(_locust_accounts(o))
    return env, env if seeded else {k: v for k, v in env.items() if k != "MMLOAD_PASSWORD"}


def _master_port(extra: list[str]) -> list[str]:
    """A free port for the master and its workers, unless the Locust arguments name one:
    Locust's fixed 5557 makes two runs with --processes at once fail."""
    if any(a.startswith(("--master-bind-port", "--master-port")) for a in extra):
        return []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    return ["--master-bind-port", port, "--master-port", port]


def launch(o: RunOptions, out: TextIO, err: TextIO) -> ExitStatus:
    if o.host:
        check_host(o.host)
    check_options(o)
    run_dir = Path(o.run_dir) if o.run_dir else new_run_dir(o.out, o.scenario)
    server: EmbeddedServer | None = None
    code = 0
    env, for_locust = locust_env(o)
    try:
        if not o.host:  # its users' password is the run's (MMLOAD_PASSWORD)
            seeded = str(max(defaults.SEEDED_ACCOUNTS, o.users))  # one account per user at least
            server = EmbeddedServer(["--accounts", seeded, *o.server_args], env=env)
            server.start()
            print(f"mmload run: reference server at {server.url}: {server.settings}", file=err)
        host = o.host or (server.url if server else "")
        hook_id = o.hook_id
        if server is not None and not hook_id and "hook_id" in USES[o.scenario]:
            hook_id = next(iter(server.hooks.values()), "")  # the scenario posts to a webhook
        print(
            f"mmload run: {o.scenario} with {o.users} users for {o.run_time} against {host}",
            file=err,
            flush=True,
        )
        if hook_id:  # in the environment, not on the command line, where ps shows it
            for_locust = {**for_locust, HOOK_ID_ENV: hook_id}
        code = _run_locust(locust_command(o, host, run_dir), for_locust)
        if server is not None and run_dir.exists():
            write_json(run_dir / SERVER_JSON, server.stats())
    except ServerError as exc:
        raise RunError(str(exc), ExitStatus.RUN_FAILED) from None
    finally:
        if server is not None:
            server.stop()
    return _outcome(code, run_dir, out, err)


def _outcome(code: int, run_dir: Path, out: TextIO, err: TextIO) -> ExitStatus:
    if not (run_dir / RUN_JSON).exists():
        if code == ExitStatus.USAGE:
            return ExitStatus.USAGE  # Locust (or mmload's plugin in it) said why
        if code in (ExitStatus.INTERRUPTED, ExitStatus.TERMINATED):
            print("mmload run: interrupted before the run started", file=err)
            return ExitStatus(code)
        raise RunError(
            f"Locust exited with code {code} before writing a run folder", ExitStatus.RUN_FAILED
        )
    print(run_dir, file=out, flush=True)
    if code in (
        ExitStatus.NONCONFORMANT,
        ExitStatus.RUN_FAILED,
        ExitStatus.INCONCLUSIVE,
        ExitStatus.INTERRUPTED,
        ExitStatus.TERMINATED,
    ):
        return ExitStatus(code)
    if code != 0:
        print(f"mmload run: Locust exited with code {code}", file=err)
        return ExitStatus.RUN_FAILED
    return ExitStatus.OK


def _run_locust(cmd: list[str], env: dict[str, str]) -> int:
    """Ctrl-C becomes SIGTERM for Locust: its graceful shutdown lets users finish the request
    they are in (a SIGINT interrupts them, and those requests would be missing from the totals).
    An interrupted run ends with 128 + the signal (130 after Ctrl-C), as shells expect, once
    Locust has finished writing.  Whatever happens here, Locust is not left running."""
    proc: subprocess.Popen[bytes] | None = None
    interrupted = 0

    def stop(signum: int, _: object) -> None:
        nonlocal interrupted
        interrupted = signum
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=die_with_parent)
        if interrupted:  # the signal came while Locust was being started
            proc.send_signal(signal.SIGTERM)
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait()
    return 128 + interrupted if interrupted else code
