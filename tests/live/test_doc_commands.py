"""Every shell command shown in README.md and docs/*.md is run here, as written there and on
127.0.0.1 only, or is in ALLOWLIST with the reason it cannot run in a test.

What a command is: each command of a ```sh block (a line, with the lines its trailing backslash
continues; comments dropped), and, in any other block but Python source, each line that names
mmload, locust, make, pip or python (a synopsis, a CI step, a comment in a configuration).
``test_every_documented_command_is_run_or_allowlisted`` fails on a command that is neither run by
a test below (``RUN``) nor allowlisted, and on an entry of either that the docs no longer show.

The tests take each command from the docs, word for word, and ``rewrite()`` it as follows, so
that no traffic leaves 127.0.0.1 and the whole file takes a few minutes:

- hosts: a placeholder or a real server (``https://mattermost.example.com``, ``URL``,
  ``http://mattermost.test:8065``) is a reference server the test starts on 127.0.0.1 for that
  command alone (``mmload serve``, Mattermost's defaults); ``http://127.0.0.1:8080`` is an nginx
  the test starts (from the docs' configuration where they give one);
- ports: the docs' 8065 and 8066 (reference servers: started with ``--port 0``), 8080 (nginx),
  8089 (Locust's web UI) and 5557 (Locust's master) are free ports, in commands and in nginx's
  configuration alike; addresses to listen on (``10.0.0.1``, ``0.0.0.0``, ``'*'``) are 127.0.0.1:
  nothing listens beyond loopback;
- durations: ``-t`` is a few seconds (12 s for the probe, which needs that many: see
  docs/proxies-and-clusters.md), and is added where a command that runs load gives none;
- files: an accounts file (``accounts.csv``, ``FILE``, ``/srv/mmload/accounts.csv``) is one the
  test writes, with the reference server's seeded accounts; ``locustfiles/`` is the repository's;
  ``api.py`` is the README's Python block; every command runs in a directory of the test's, so
  ``results/`` and ``--out`` land there;
- the web UI: a plain ``locust`` without ``--headless`` gets ``--autostart --autoquit 0`` (nobody
  is there to press start) and ``mmload run --web`` gets ``--web-linger 1``;
- one machine for many: a master meant for several worker hosts (``--expect-workers 4 -u 200
  -r 200``) gets 2 workers and 10 users, and the worker command runs once per worker (here, on
  2 cores and one address, 200 users share one bucket and its answers come too late for the
  verdict to measure a rate);
- ``make``: the repository's Makefile, with the virtualenv running these tests as ``VENV`` (its
  stamp taken as up to date: ``make -o``, nothing is installed) and the duration in ``RUN_ARGS``;
- ``mmload`` and ``locust`` are ``python -m mmload`` and ``python -m locust`` of this interpreter;
  a trailing ``&`` starts the command in the background, stopped (SIGTERM, exit 0) at the end.

Each test asserts the exit code the docs give the command (0 for a pass, 1 where they say it
fails), that the run folder holds the files docs/run-folder.md promises, and what the docs say
the verdict finds where that is cheap to check.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mmload.exitcodes import ExitStatus
from tests.support.nginx import NGINX, Limit, Nginx, free_port, proxy_http
from tests.support.runs import REPO, FakeServer
from tests.support.server_fixture import DEFAULT_PASSWORD, ServeFactory, Server

README = REPO / "README.md"
DOCUMENTS = [README, *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^ *```([^\n]*)\n(.*?)^ *```[ \t]*$", re.M | re.S)
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
NAMES_A_COMMAND = re.compile(r"(?<![\w/.$-])(?:mmload|locust|make|pip|python3?)\s+\S")
COMMENT = re.compile(r"(?:^|\s)#.*$")

HAMMER_TIME = "5s"  # a hammer passes in 5 s against a reference server
PROBE_TIME = "12s"  # "give it 12 s or more" (docs/proxies-and-clusters.md)
PACED_TIME = "8s"  # steady through a balancer: as tests/live/test_cluster.py
WORKERS, USERS = 2, 10
TIMEOUT_S = 120.0

# The documented names the rewrite replaces (see the docstring).
PLACEHOLDER_HOSTS = {"https://mattermost.example.com", "URL", "http://mattermost.test:8065"}
ACCOUNTS_FILES = {"accounts.csv", "FILE", "/srv/mmload/accounts.csv"}
BIND_ADDRESSES = {"10.0.0.1", "0.0.0.0", "*", "127.0.0.1"}
BIND_OPTIONS = {"--web-host", "--master-bind-host", "--master-host"}
PORT_OPTIONS = {"--master-bind-port", "--master-port"}

RUN_FILES = (
    "run.json",
    "timeline.csv",
    "records.bin",
    "keys.csv",
    "verdict.json",
    "verdict.xml",
    "summary.md",
    "report.html",
    "throughput.png",
    "offered-vs-accepted.png",
    "headers.png",
    "latency.png",
)

Command = tuple[str, str]  # (document, the command as normalized_command() writes it)

# The commands each test below runs, as the docs write them.
MAKE_RUN: Command = ("README.md", "make run")
OWN_MATTERMOST: Command = (
    "README.md",
    "mmload run --host https://mattermost.example.com --accounts accounts.csv",
)
PLAIN_LOCUST_WEB: Command = (
    "README.md",
    "locust -f locustfiles/probe.py --host https://mattermost.example.com --accounts accounts.csv",
)
PLAIN_LOCUST_HEADLESS: Command = (
    "README.md",
    "locust -f locustfiles/hammer.py --headless -u 10 -r 10 -t 60s --host URL "
    "--accounts accounts.csv",
)
OWN_LOCUSTFILE: Command = (
    "README.md",
    "locust -f api.py --headless -u 4 -t 30s --host http://127.0.0.1:8080 "
    "--documented-limit 10/s --documented-burst 5",
)
MASTER: Command = (
    "docs/distributed.md",
    "locust -f locustfiles/hammer.py --master --master-bind-host 10.0.0.1 --master-bind-port "
    "5557 --expect-workers 4 --headless -u 200 -r 200 -t 5m --host http://mattermost.test:8065 "
    "--accounts /srv/mmload/accounts.csv --documented-limit 10/s --out results",
)
WORKER: Command = (
    "docs/distributed.md",
    "locust -f locustfiles/hammer.py --worker --master-host 10.0.0.1 --master-port 5557",
)
PROXY_BACKEND: Command = (
    "docs/proxies-and-clusters.md",
    "mmload serve --no-rate-limit --port 8065 --accounts 4 &",
)
PROXY_RUN: Command = (
    "docs/proxies-and-clusters.md",
    "mmload run --host http://127.0.0.1:8080 --accounts 4 -u 4 -t 30s "
    "--documented-limit 10/s --documented-burst 20",
)
CLUSTER_NODES: tuple[Command, ...] = tuple(
    (
        "docs/proxies-and-clusters.md",
        f"mmload serve --port {port} --cluster-secret S --per-sec 10 --max-burst 20 --accounts 4 &",
    )
    for port in (8065, 8066)
)
CLUSTER_RUN: Command = (
    "docs/proxies-and-clusters.md",
    "mmload run --host http://127.0.0.1:8080 --accounts 4 --scenario steady --rate-factor 8 "
    "-t 30s --documented-limit 10/s --documented-burst 20",
)
WEB_LOGIN_EXPORT: Command = (
    "docs/report.md",
    "export MMLOAD_WEB_LOGIN='ops:a-long-random-password'",
)
WEB_LOGIN_RUN: Command = ("docs/report.md", "mmload run --web --web-host 0.0.0.0 -- --web-login")
WEB_LOGIN_LOCUST: Command = (
    "docs/report.md",
    "locust -f locustfiles/probe.py --host URL --accounts FILE --web-host '*' --web-login",
)

RUN: tuple[Command, ...] = (
    MAKE_RUN,
    OWN_MATTERMOST,
    PLAIN_LOCUST_WEB,
    PLAIN_LOCUST_HEADLESS,
    OWN_LOCUSTFILE,
    MASTER,
    WORKER,
    PROXY_BACKEND,
    PROXY_RUN,
    *CLUSTER_NODES,
    CLUSTER_RUN,
    WEB_LOGIN_EXPORT,
    WEB_LOGIN_RUN,
    WEB_LOGIN_LOCUST,
)

INSTALLS_FROM_THE_INDEX = (
    "installs from the package index: needs the network; tests/live/test_install.py installs "
    "mmload (pip install, not editable) into a fresh virtualenv offline"
)
SYNOPSIS = "a synopsis, not a command: tests/cli/test_docs.py checks that its options exist"
CI_STEP = (
    "a CI service's step, run there with its secrets and variables: it is the README's "
    "`mmload run --host https://mattermost.example.com --accounts accounts.csv`, which is run, "
    "with --out"
)
ALLOWLIST: dict[Command, str] = {
    ("README.md", "make"): "creates .venv and " + INSTALLS_FROM_THE_INDEX,
    ("README.md", "pip install -e '.[test]'"): INSTALLS_FROM_THE_INDEX,
    ("README.md", "make test"): (
        "the whole test suite, this file included, and the lint: minutes; "
        "tests/live/test_makefile.py runs it with no test selected"
    ),
    ("README.md", "- run: pip install ."): "a GitHub Actions step that " + INSTALLS_FROM_THE_INDEX,
    ("README.md", "- name: mmload run # exit 1 (fail), 3 or 4 fails the job"): (
        "a GitHub Actions step's name, not a command"
    ),
    ("README.md", "mmload run --host https://mattermost.example.com \\"): CI_STEP,
    ("README.md", "- pip install ."): "a GitLab CI step that " + INSTALLS_FROM_THE_INDEX,
    (
        "README.md",
        '- mmload run --host https://mattermost.example.com --accounts "$MMLOAD_ACCOUNTS_CSV"',
    ): CI_STEP,
    (
        "docs/options.md",
        "mmload run [--host URL] [--scenario hammer|probe|steady|ramp|mixed|polite|webhook|bypass]",
    ): SYNOPSIS,
    (
        "docs/reference-server.md",
        "mmload serve [--host 127.0.0.1] [--port 8065] [--rate-limit|--no-rate-limit] "
        "[--per-sec 10]",
    ): SYNOPSIS,
    (
        "docs/report.md",
        "mmload compare RUN_DIR RUN_DIR [...] [--out DIR] [--tolerance 0.05] "
        "[--latency-tolerance 0.5]",
    ): SYNOPSIS,
    (
        "docs/verdict.md",
        "mmload verify RUN_DIR [--documented-limit 10/s] [--documented-burst 100] "
        "[--tolerance 0.05]",
    ): SYNOPSIS,
    ("docs/report.md", "- targets: ['127.0.0.1:9646'] # mmload run --prometheus-port 9646"): (
        "a comment in a Prometheus scrape configuration; tests/live/test_prometheus.py serves "
        "and scrapes --prometheus-port"
    ),
}


# reading the docs


def normalized_command(text: str) -> str:
    return " ".join(text.split())


def blocks(path: Path) -> list[tuple[str, str]]:
    """``(info string, body)`` of each fenced block."""
    return [(info.strip(), body) for info, body in FENCE.findall(path.read_text("utf-8"))]


def shell_commands(body: str) -> list[str]:
    """The commands of a shell block: comment lines and comments dropped, a line ending in a
    backslash joined with the next."""
    found, pending = [], ""
    for line in body.splitlines():
        line = COMMENT.sub("", line).rstrip()
        if not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        found.append(normalized_command(pending + line))
        pending = ""
    assert not pending, f"a shell block ends in a backslash: {body!r}"
    return found


def documented_commands() -> list[Command]:
    found = []
    for path in DOCUMENTS:
        name = path.relative_to(REPO).as_posix()
        for info, body in blocks(path):
            if info in SHELL_BLOCKS:
                found += [(name, command) for command in shell_commands(body)]
            elif info != "python":
                found += [
                    (name, normalized_command(line))
                    for line in body.splitlines()
                    if NAMES_A_COMMAND.search(line)
                ]
    return found


def documented(command: Command) -> str:
    """The command, checked to be in its document still (else its test would run stale text)."""
    assert command in documented_commands(), f"{command[0]} no longer shows: {command[1]}"
    return command[1]


def nginx_blocks(document: str) -> list[str]:
    return [body for info, body in blocks(REPO / document) if info == "nginx"]


def readme_locustfile() -> str:
    """The README's Python block: the locustfile ``api.py`` of its own-locustfile example."""
    (body,) = [body for info, body in blocks(README) if info == "python"]
    return body


def test_every_documented_command_is_run_or_allowlisted() -> None:
    commands = documented_commands()
    neither = [c for c in commands if c not in RUN and c not in ALLOWLIST]
    assert neither == [], "run each in a test here, or allowlist it with a reason"
    stale = [c for c in (*RUN, *ALLOWLIST) if c not in commands]
    assert stale == [], "no longer in the docs"
    assert not set(RUN) & set(ALLOWLIST)


def test_the_reading_of_the_docs() -> None:
    assert shell_commands("make   # one\n# a comment\na \\\n    --b c  # two\n") == [
        "make",
        "a --b c",
    ]
    assert NAMES_A_COMMAND.search("  - run: pip install .")
    assert not NAMES_A_COMMAND.search('{"mmload_serve":"ready"} $mmload x /x/mmload x')
    assert not NAMES_A_COMMAND.search("- job_name: mmload")
    assert len(nginx_blocks("docs/proxies-and-clusters.md")) == 2
    assert "class Api(RateLimitedUser)" in readme_locustfile()


# rewriting and running


@dataclass
class Local:
    """What the docs' names stand for here (see the module's docstring)."""

    cwd: Path
    run_time: str
    accounts: Path  # a file of the reference server's seeded accounts
    web_port: int  # a free port for Locust's web UI
    hosts: dict[str, str] = field(default_factory=dict)  # documented URL -> local URL
    ports: dict[str, int] = field(default_factory=dict)  # documented port -> local port
    users: int | None = None  # -u and -r, and the workers, of a master for several hosts
    env: dict[str, str] = field(default_factory=dict)  # what the docs export


def rewrite(command: str, local: Local) -> list[str]:
    """The command line to run for a documented command (trailing ``&`` aside)."""
    words = shlex.split(command.removesuffix("&"))
    if words[0] == "make":
        venv = Path(sys.prefix)
        assert (venv / "bin" / "mmload").exists(), f"no mmload in {venv}: run make"
        return [
            "make",
            "--no-print-directory",
            "-f",
            str(REPO / "Makefile"),
            "-o",
            f"{venv}/.installed",
            f"VENV={venv}",
            f"RUN_ARGS=-t {local.run_time}",
            *words[1:],
        ]
    assert words[0] in ("mmload", "locust"), f"no rewrite for {words[0]}"
    split = words.index("--") if "--" in words else len(words)
    own, passed_on = words[1:split], words[split + 1 :]
    out: list[str] = []
    i = 0
    while i < len(own):
        value = local_value(own[i], own[i + 1] if i + 1 < len(own) else "", local)
        out += [own[i]] if value is None else [own[i], value]
        i += 1 if value is None else 2
    load = own[:1] == ["run"] if words[0] == "mmload" else "--worker" not in own
    if load and not {"-t", "--run-time"} & set(own):
        out += ["-t", local.run_time]
    if words[0] == "locust" and load and "--headless" not in own:
        out += ["--autostart", "--autoquit", "0", "--web-port", str(local.web_port)]
    if words[0] == "mmload" and "--web" in own:
        out += ["--web-linger", "1"]
        passed_on += ["--web-port", str(local.web_port)]
    command_line = [sys.executable, "-m", words[0], *out]
    return command_line + (["--", *passed_on] if passed_on else [])


def local_value(option: str, value: str, local: Local) -> str | None:
    """What an option's documented value stands for here; None: the word is left as it is."""
    if option == "--host":
        return local.hosts[value]
    if option in ("-t", "--run-time"):
        return local.run_time
    if option == "--accounts" and not value.isdigit():
        assert value in ACCOUNTS_FILES, value
        return str(local.accounts)
    if option == "-f" and value.startswith("locustfiles/"):
        return str(REPO / value)
    if option in BIND_OPTIONS:
        assert value in BIND_ADDRESSES, f"{option} {value}: not an address the test knows"
        return "127.0.0.1"
    if option in PORT_OPTIONS:
        return str(local.ports[value])
    if option in ("-u", "-r", "--expect-workers") and local.users is not None:
        return str(WORKERS if option == "--expect-workers" else local.users)
    return None


def command_env(local: Local) -> dict[str, str]:
    """This environment without mmload's and Locust's own variables, plus what the docs export."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMLOAD_", "LOCUST_"))}
    return {**env, **local.env}


def run_folders(cwd: Path) -> set[Path]:
    return {p.parent for p in cwd.rglob("run.json")}


@dataclass
class Ran:
    argv: list[str]
    code: int
    out: str
    err: str
    folder: Path | None
    seen: Any = None  # what ``during`` returned

    def context(self) -> str:
        summary = ""
        if self.folder is not None and (self.folder / "verdict.json").exists():
            summary = verdict(self.folder)["summary"]
        return f"{shlex.join(self.argv)}\nexit {self.code}: {summary}\n{self.err[-3000:]}"


def start(argv: list[str], local: Local, name: str) -> subprocess.Popen[bytes]:
    """``argv`` in the background, its output in files of ``local.cwd``."""
    with (
        open(local.cwd / f"{name}.out", "wb") as out,
        open(local.cwd / f"{name}.err", "wb") as err,
    ):
        return subprocess.Popen(argv, cwd=local.cwd, env=command_env(local), stdout=out, stderr=err)


def run(
    command: Command,
    local: Local,
    during: Callable[[], Any] | None = None,
) -> Ran:
    """Run the documented command, rewritten, to its end; ``during`` runs while it does."""
    argv = rewrite(documented(command), local)
    before = run_folders(local.cwd)
    name = f"cmd{len(list(local.cwd.glob('cmd*.out')))}"
    proc = start(argv, local, name)
    try:
        seen = during() if during is not None else None
        code = proc.wait(TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    new = run_folders(local.cwd) - before
    assert len(new) <= 1, new
    out = (local.cwd / f"{name}.out").read_text(errors="replace")
    err = (local.cwd / f"{name}.err").read_text(errors="replace")
    return Ran(argv, code, out, err, new.pop() if new else None, seen)


def start_server(command: Command, local: Local, serve: ServeFactory) -> Server:
    """A documented ``mmload serve ... --port N &``: a reference server on a free port (``--port
    0``; N stands for its port from then on), stopped at the test's end by the fixture (it must
    exit 0 on SIGTERM)."""
    words = shlex.split(documented(command).removesuffix("&"))
    assert words[:2] == ["mmload", "serve"] and command[1].endswith("&"), command
    port = words.index("--port")
    server = serve(*words[2:port], *words[port + 2 :])
    local.ports[words[port + 1]] = server.port
    return server


def verdict(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "verdict.json").read_text())
    return data


def checks_of(folder: Path) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in verdict(folder)["checks"]}


def assert_ran(ran: Ran, code: ExitStatus, embedded: bool = False) -> Path:
    """The exit code, and a run folder with every file docs/run-folder.md lists; its verdict's
    outcome says the same as the code."""
    assert ran.code == code, ran.context()
    assert ran.folder is not None, ran.context()
    missing = [name for name in RUN_FILES if not (ran.folder / name).is_file()]
    assert missing == [], ran.context()
    assert (ran.folder / "server.json").is_file() == embedded  # the embedded server's counters
    outcome = {ExitStatus.OK: "pass", ExitStatus.NONCONFORMANT: "fail"}.get(code, "inconclusive")
    assert verdict(ran.folder)["outcome"] == outcome, ran.context()
    return ran.folder


def last_line_is_the_folder(ran: Ran, cwd: Path) -> None:
    """``mmload run`` ends with the path of its run folder."""
    assert ran.folder is not None
    assert (cwd / ran.out.strip().splitlines()[-1]).resolve() == ran.folder.resolve(), ran.out


def warnings_of(folder: Path) -> list[str]:
    return [
        c["id"] for c in verdict(folder)["checks"] if c["severity"] == "warning" and not c["passed"]
    ]


def accounts(cwd: Path, n: int = 4) -> Path:
    """An accounts file of the reference server's seeded accounts."""
    path = cwd / "accounts.csv"
    path.write_text(
        "login_id,password\n" + "".join(f"user{k},{DEFAULT_PASSWORD}\n" for k in range(1, n + 1))
    )
    return path


def local_for(tmp_path: Path, run_time: str, **kw: Any) -> Local:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Local(cwd=cwd, run_time=run_time, accounts=accounts(cwd), web_port=free_port(), **kw)


def answers(url: str, timeout: float = 30.0) -> requests.Response:
    """The first answer from ``url`` (a web UI that is starting), following redirects."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


needs_nginx = pytest.mark.skipif(NGINX is None or not Path(NGINX).exists(), reason="needs nginx")


# README.md


def test_make_run_hammers_the_embedded_server_and_passes_with_two_warnings(
    tmp_path: Path,
) -> None:
    """ "`make run` prints a status line every few seconds, then the verdict (the reference server
    with Mattermost's defaults passes, with two warnings ...), and ends with the path of the run
    folder (`results/<UTC timestamp>-hammer/`), which holds the report"."""
    local = local_for(tmp_path, HAMMER_TIME)
    ran = run(MAKE_RUN, local)
    folder = assert_ran(ran, ExitStatus.OK, embedded=True)
    assert folder.parent == local.cwd / "results" and folder.name.endswith("-hammer")
    last_line_is_the_folder(ran, local.cwd)
    assert sorted(warnings_of(folder)) == ["advertised-limit", "reset-semantics"]


def test_a_run_against_your_own_mattermost_probes_it_and_passes(
    tmp_path: Path, serve: ServeFactory
) -> None:
    """README's "3. Run.": against --host the scenario is the probe; the run folder is
    `results/<UTC timestamp>-probe/`, with summary.md, verdict.json, verdict.xml, report.html
    and the records."""
    local = local_for(tmp_path, PROBE_TIME)
    local.hosts["https://mattermost.example.com"] = serve().url
    ran = run(OWN_MATTERMOST, local)
    folder = assert_ran(ran, ExitStatus.OK)
    assert folder.parent == local.cwd / "results" and folder.name.endswith("-probe")
    last_line_is_the_folder(ran, local.cwd)


def test_plain_locust_serves_the_web_ui_with_the_rate_limits_tab(
    tmp_path: Path, serve: ServeFactory
) -> None:
    local = local_for(tmp_path, PROBE_TIME)
    local.hosts["https://mattermost.example.com"] = serve().url
    live_csv = f"http://127.0.0.1:{local.web_port}/mmload/live.csv"
    ran = run(PLAIN_LOCUST_WEB, local, during=lambda: answers(live_csv))
    assert ran.seen.status_code == 200 and ran.seen.text.startswith("key,"), ran.seen.text
    assert_ran(ran, ExitStatus.OK)


def test_plain_locust_headless_writes_the_same_run_folder(
    tmp_path: Path, serve: ServeFactory
) -> None:
    local = local_for(tmp_path, HAMMER_TIME)
    local.hosts["URL"] = serve().url
    folder = assert_ran(run(PLAIN_LOCUST_HEADLESS, local), ExitStatus.OK)
    assert folder.parent == local.cwd / "results" and folder.name.endswith("-hammer")


@needs_nginx
def test_a_locustfile_of_ones_own_behind_nginx_passes(tmp_path: Path) -> None:
    """The README's api.py "for an API behind nginx's limit_req at 10 requests a second with a
    burst of 5": the test's fake API behind nginx limiting so."""
    local = local_for(tmp_path, "8s")
    (local.cwd / "api.py").write_text(readme_locustfile())
    with (
        FakeServer() as api,
        Nginx.start(
            tmp_path / "nginx", lambda port: proxy_http(port, [api.url], Limit(10, 5, 429))
        ) as nginx,
    ):
        local.hosts["http://127.0.0.1:8080"] = nginx.url
        ran = run(OWN_LOCUSTFILE, local)
    folder = assert_ran(ran, ExitStatus.OK)
    checks = checks_of(folder)
    assert checks["limit-enforced"]["passed"] and checks["rate-matches-documented"]["passed"]


# docs/distributed.md


def test_a_master_and_its_workers_across_machines(tmp_path: Path, serve: ServeFactory) -> None:
    local = local_for(tmp_path, HAMMER_TIME, users=USERS)
    local.hosts["http://mattermost.test:8065"] = serve().url
    local.ports["5557"] = free_port()
    workers: list[subprocess.Popen[bytes]] = []

    def start_workers() -> None:
        worker = rewrite(documented(WORKER), local)
        workers.extend(start(worker, local, f"worker{n}") for n in range(WORKERS))

    try:
        ran = run(MASTER, local, during=start_workers)
        codes = [worker.wait(30) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    folder = assert_ran(ran, ExitStatus.OK)
    assert folder.parent == local.cwd / "results"
    assert codes == [0] * WORKERS
    assert json.loads((folder / "run.json").read_text())["missing_workers"] == []


# docs/proxies-and-clusters.md


def nginx_from_docs(config: str, local: Local, port: int) -> str:
    """The docs' nginx configuration with the ports rewritten, listening on 127.0.0.1 only."""
    config = config.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    for documented_port, actual in local.ports.items():
        config = config.replace(f"127.0.0.1:{documented_port};", f"127.0.0.1:{actual};")
    assert "8065" not in config and "8066" not in config and "8080" not in config, config
    return config


@needs_nginx
def test_nginx_limit_req_in_front_of_an_unlimited_reference_server(
    tmp_path: Path, serve: ServeFactory
) -> None:
    """ "Here it measured 10.000/s and a burst of 20 in 12 s, passing"."""
    local = local_for(tmp_path, PROBE_TIME)
    (config, _) = nginx_blocks("docs/proxies-and-clusters.md")
    start_server(PROXY_BACKEND, local, serve)
    with Nginx.start(tmp_path / "nginx", partial(nginx_from_docs, config, local)) as nginx:
        local.hosts["http://127.0.0.1:8080"] = nginx.url
        ran = run(PROXY_RUN, local)
    folder = assert_ran(ran, ExitStatus.OK)
    measured = verdict(folder)["measured"]
    assert abs(measured["rate_per_s"] - 10) <= 0.5 and abs(measured["burst"] - 20) <= 1, measured


@needs_nginx
def test_a_cluster_behind_round_robin_fails_and_behind_sticky_passes(
    tmp_path: Path, serve: ServeFactory
) -> None:
    """Round-robin: "about 20/s, a burst of 41 ..., buckets_per_key 2 ..., fails
    rate-matches-documented and burst-matches-documented, warns one-bucket-per-key"; sticky
    (`ip_hash`): "one bucket and one node's rate, 10/s and a burst of 20: it passes"."""
    local = local_for(tmp_path, PACED_TIME)
    (_, config) = nginx_blocks("docs/proxies-and-clusters.md")
    sticky = config.replace("# ip_hash;", "ip_hash;")
    assert sticky != config
    for node in CLUSTER_NODES:
        start_server(node, local, serve)
    ran: dict[str, Ran] = {}
    for balancing, http in (("round-robin", config), ("sticky", sticky)):
        with Nginx.start(tmp_path / balancing, partial(nginx_from_docs, http, local)) as nginx:
            local.hosts["http://127.0.0.1:8080"] = nginx.url
            ran[balancing] = run(CLUSTER_RUN, local)
    folder = assert_ran(ran["round-robin"], ExitStatus.NONCONFORMANT)
    measured, checks = verdict(folder)["measured"], checks_of(folder)
    assert measured["buckets_per_key"] == 2 and measured["scope"] == "per-address", measured
    assert abs(measured["rate_per_s"] - 20) <= 2, measured
    assert checks["rate-matches-documented"]["passed"] is False
    assert checks["burst-matches-documented"]["passed"] is False, checks["burst-matches-documented"]
    assert checks["one-bucket-per-key"]["passed"] is False
    assert checks["one-bucket-per-key"]["severity"] == "warning"
    folder = assert_ran(ran["sticky"], ExitStatus.OK)
    measured = verdict(folder)["measured"]
    assert measured["buckets_per_key"] == 1 and abs(measured["burst"] - 20) <= 1, measured


# docs/report.md


def test_the_web_ui_behind_a_login(tmp_path: Path, serve: ServeFactory) -> None:
    """`--web-login` with the login in the environment: the live view asks for it."""
    local = local_for(tmp_path, HAMMER_TIME)
    name, _, value = shlex.split(documented(WEB_LOGIN_EXPORT))[1].partition("=")
    local.env[name] = value

    def lands_on() -> str:
        """Where asking for the live view's CSV lands."""
        live_csv = f"http://127.0.0.1:{local.web_port}/mmload/live.csv"
        return urlsplit(answers(live_csv).url).path

    ran = run(WEB_LOGIN_RUN, local, during=lands_on)
    assert ran.seen == "/login"
    assert_ran(ran, ExitStatus.OK, embedded=True)
    local.run_time, local.web_port = PROBE_TIME, free_port()
    local.hosts["URL"] = serve().url
    ran = run(WEB_LOGIN_LOCUST, local, during=lands_on)
    assert ran.seen == "/login"
    assert_ran(ran, ExitStatus.OK)
