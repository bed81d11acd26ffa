"""mmload's options, in one place for ``mmload run`` and a plain Locust run: the argument types,
the option table (registered on Locust's parser), the settings read from it, which scenario acts
on which option, and the one refusal policy (:func:`refusal`): every option acts or is refused
with a reason, the same in both."""

from __future__ import annotations

import argparse
import re
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from mmload import defaults, source_ips
from mmload.limiter.rate import Documented, Rate, RouteLimit, is_route_limit
from mmload.results.record import LIMITABLE, LIMITED

DEFAULTS: dict[str, Any] = {
    "api": "v4",
    "accounts": "",  # none: authenticated scenarios refuse to start without them
    "password": defaults.SEEDED_PASSWORD,
    "documented_limit": None,  # not given: Mattermost's documented 10/s and burst 100
    "documented_burst": None,  # not given: 100 if the limit was not given either, else none
    "vary_by": "address",
    "out": "results",
    "max_records": 0,  # every record
    "progress": 5.0,
    "request_timeout": defaults.REQUEST_TIMEOUT,
    "tolerance": defaults.TOLERANCE,
    "source_ips": "",  # none: the address the system picks
    "limited_status": tuple(sorted(LIMITED)),  # Mattermost's 429
}


HOOK_ID_ENV = "MMLOAD_HOOK_ID"  # how mmload run gives Locust the hook id: never in argv
LOCUST_ONLY = ("include_in_web_ui", "is_secret", "env_var")  # kwargs plain argparse lacks


def documented_text(text: str) -> str:
    """``--documented-limit``: the general rate (``10/s``) or a route's own
    (``POST /api/v4/users/login=10/min``)."""
    try:
        RouteLimit.parse(text) if is_route_limit(text) else Rate.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def documented(values: str | list[str] | tuple[str, ...] | None, burst: int | None) -> Documented:
    """What the documentation promises, from every ``--documented-limit`` given (one general
    rate at most, any routes) and ``--documented-burst``; a ValueError for two general rates."""
    given = [values] if isinstance(values, str) else list(values or ())
    general = [v for v in given if not is_route_limit(v)]
    if len(general) > 1:
        raise ValueError(
            f"--documented-limit gives the general rate once, not {' and '.join(general)}; "
            "a route's own limit is METHOD /path=RATE (POST /api/v4/users/login=10/min)"
        )
    routes = tuple(v for v in given if is_route_limit(v))
    return Documented.resolve(general[0] if general else None, burst, routes)


def documented_refusal(values: str | list[str] | tuple[str, ...] | None) -> str:
    """Why the ``--documented-limit`` values given cannot stand together ("" when they can)."""
    try:
        documented(values, None)
    except ValueError as exc:
        return str(exc)
    return ""


_STATUS = re.compile(r"[0-9]{3}")  # ASCII digits only: int() also takes "+429", "4_29", "٤٢٩"


def limited_statuses(text: str) -> tuple[int, ...]:
    """``--limited-status``: comma-separated HTTP statuses that are refusals, each 400..599
    (``429,503``), sorted and once each (a tuple: Locust sends parsed options to its workers
    as msgpack, which has no sets)."""
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise argparse.ArgumentTypeError("give at least one HTTP status, e.g. 429 or 429,503")
    statuses = set()
    for item in items:
        if not _STATUS.fullmatch(item) or int(item) not in LIMITABLE:
            raise argparse.ArgumentTypeError(
                f"a refusal is an HTTP error status from {LIMITABLE.start} to "
                f"{LIMITABLE.stop - 1}, not {item!r} (write e.g. 429,503)"
            )
        statuses.add(int(item))
    return tuple(sorted(statuses))


def status_list(statuses: Collection[int]) -> str:
    """Statuses as ``--limited-status`` takes them: ``429,503``."""
    return ",".join(str(s) for s in sorted(statuses))


def non_negative(text: str) -> int:
    value = int(text)  # argparse turns a ValueError into "invalid non_negative value"
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative, not {value}")
    return value


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    value = float(text)  # argparse turns a ValueError into "invalid seconds value"
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def factor(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive multiple, not {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a fraction between 0 and 1, not {text}")
    return value


# Locust's -t forms (20, 20s, 3m, 2h, 1h20m, 3h30m10s), in ASCII digits only: Locust itself also
# takes other scripts' digits, and turns an hour count too big for a timedelta into a traceback
_DURATION = re.compile(r"([0-9]+)|(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
MAX_RUN_TIME = 365 * 86400  # seconds: a year


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def password(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty password would let nobody log in")
    return text


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, not {value}")
    return value


def duration_seconds(text: str) -> int:
    """``20``, ``20s``, ``3m``, ``2h``, ``1h20m``, ``3h30m10s`` in seconds, from 1 s to a year;
    ArgumentTypeError otherwise."""
    match = _DURATION.fullmatch(text)
    if match is None or not text:
        raise argparse.ArgumentTypeError(f"write a run time like 30s, 5m or 1h20m, not {text!r}")
    plain, hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
    seconds = plain + 3600 * hours + 60 * minutes + secs
    if not 1 <= seconds <= MAX_RUN_TIME:
        raise argparse.ArgumentTypeError(
            f"a run time is at least 1 s and at most a year, not {text!r}"
        )
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest of Locust's forms: 90 -> ``1m30s``, 3600 -> ``1h``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def run_time(text: str) -> str:
    """``-t/--run-time``: checked here (Locust would fail later, or run forever on 0), and
    passed on to Locust in its canonical form."""
    return format_duration(duration_seconds(text))


def tcp_port(text: str) -> int:
    """A TCP port to listen on: 1..65535."""
    port = non_negative(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, not {text!r}")
    return port


EXIT_CODE_ON_ERROR = (
    "--exit-code-on-error would be ignored: mmload sets the exit code itself, from the verdict "
    "and the run's health (0 pass, 1 fail, 3 impaired or not run, 4 inconclusive); failed "
    "requests count through the impairment threshold"
)


def exit_code_refusal(given: object) -> str:
    """Why Locust's ``--exit-code-on-error`` cannot act ("" at its default, 1: not given)."""
    return EXIT_CODE_ON_ERROR if given not in (None, 1) else ""


def prometheus_refusal(port: int | None, host: str | None, linger: float | None) -> str:
    """Why --prometheus-host or --prometheus-linger cannot act ("" when they can)."""
    if port is None and (host or linger):
        return "--prometheus-host and --prometheus-linger act on --prometheus-port: give it too"
    return ""


def listen_refusal(flag: str, host: str, port: int, why: OSError) -> str:
    """What a user is told when ``flag``'s port cannot be listened on."""
    reason = why.strerror or str(why).split(":")[0]
    return f"{flag} {port}: cannot listen on {host}:{port}: {reason}"


PROMETHEUS_HOST = "127.0.0.1"  # where --prometheus-port listens unless --prometheus-host


def cannot_listen(flag: str, host: str, port: int) -> str:
    """Why ``host:port`` cannot be listened on now ("" when it can: :func:`listen_refusal`)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        return listen_refusal(flag, host, port, exc)
    return ""


def progress_interval(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (no status lines) or seconds, not {text}")
    return value


OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--api",
        {
            "choices": ("v4", "v1"),
            "default": DEFAULTS["api"],
            "help": "log in with API v4 (login_id) or the 2015 v1 (name/email)",
        },
    ),
    (
        "--accounts",
        {
            "default": DEFAULTS["accounts"],
            "metavar": "FILE|N",
            "help": "the accounts to log in with: a CSV file login_id,password[,team], "
            "or N for the reference server's seeded user1..userN; required by "
            "scenarios that log in",
        },
    ),
    (
        "--password",
        {
            "default": DEFAULTS["password"],
            "is_secret": True,
            "env_var": "MMLOAD_PASSWORD",
            "help": "password of the seeded accounts (or MMLOAD_PASSWORD; never written anywhere)",
        },
    ),
    (
        "--documented-limit",
        {
            "type": documented_text,
            "default": DEFAULTS["documented_limit"],
            "action": "append",
            "help": "the rate the documentation promises, e.g. 10/s (default: "
            f"Mattermost's documented {defaults.DOCUMENTED_LIMIT}, burst "
            f"{defaults.MAX_BURST}); again for a route with a "
            "limit and a bucket of its own: 'POST /api/v4/users/login=10/min'",
        },
    ),
    (
        "--documented-burst",
        {
            "type": non_negative,
            "default": DEFAULTS["documented_burst"],
            "help": "the documented burst (Mattermost's MaxBurst); none when "
            "--documented-limit is given alone",
        },
    ),
    (
        "--vary-by",
        {
            "choices": ("address", "user", "shared"),
            "default": DEFAULTS["vary_by"],
            "help": "what the server keys its limit on (Mattermost: address; shared: one "
            "bucket for every client, as Mattermost with both VaryBy settings off)",
        },
    ),
    (
        "--rate-factor",
        {
            "type": factor,
            "default": None,
            "help": "steady and webhook: offered rate as a multiple of the documented "
            "limit (steady: 0.5, webhook: 2)",
        },
    ),
    (
        "--step-time",
        {
            "type": seconds,
            "default": None,
            "help": "ramp and probe: seconds per step (default: what the run has "
            "left, shared out among the steps)",
        },
    ),
    (
        "--hook-id",
        {
            "default": "",
            "is_secret": True,
            "env_var": HOOK_ID_ENV,
            "help": "webhook: the incoming hook id to post to (whoever has it can post: "
            "never written anywhere)",
        },
    ),
    ("--out", {"default": DEFAULTS["out"], "help": "run folders go under this directory"}),
    (
        "--run-dir",
        {
            "default": "",
            "help": "write the run folder exactly here (a new or empty "
            "folder), instead of a new one under --out",
        },
    ),
    (
        "--max-records",
        {
            "type": non_negative,
            "default": DEFAULTS["max_records"],
            "help": "at most this many per-request records kept in the run folder (default 0: "
            "all of them; totals stay exact either way)",
        },
    ),
    (
        "--progress",
        {
            "type": progress_interval,
            "default": DEFAULTS["progress"],
            "help": "seconds between status lines (0: none)",
        },
    ),
    (
        "--tolerance",
        {
            "type": fraction,
            "default": DEFAULTS["tolerance"],
            "help": "verdict: how far the enforced rate and burst may be from the "
            f"documented ones (default {defaults.TOLERANCE:g}: {defaults.TOLERANCE * 100:g}%%)",
        },
    ),
    (
        "--strict",
        {
            "action": "store_true",
            "default": False,
            "help": "verdict: warnings (headers meaning something else than documented) fail too",
        },
    ),
    (
        "--expect",
        {
            "choices": ("mattermost", "generic"),
            "default": "",
            "help": "verdict: hold the headers to Mattermost's API documentation, or to "
            "none (default: Mattermost when the server says it is)",
        },
    ),
    (
        "--source-ips",
        {
            "type": source_ips.option,
            "default": None,
            "metavar": "RANGE|LIST",
            "help": "send from these local addresses, the users taking them in turn "
            "across all processes: a range 127.0.0.1-127.0.0.4 or a list "
            "127.0.0.1,127.0.0.2 (loopback, or assigned to this machine)",
        },
    ),
    (
        "--limited-status",
        {
            "type": limited_statuses,
            "default": DEFAULTS["limited_status"],
            "metavar": "STATUS[,STATUS]",
            "help": "the HTTP statuses that are refusals (limited, not failed), "
            "comma-separated, e.g. 429,503 for nginx's limit_req, which answers "
            "503 unless limit_req_status says otherwise (default 429)",
        },
    ),
    (
        "--prometheus-port",
        {
            "type": tcp_port,
            "default": None,
            "metavar": "PORT",
            "help": "serve the run's metrics for Prometheus on this port "
            "(/metrics; the web UI also has them at /mmload/metrics)",
        },
    ),
    (
        "--prometheus-host",
        {
            "default": None,
            "metavar": "ADDRESS",
            "help": "where --prometheus-port listens (default 127.0.0.1: this machine only)",
        },
    ),
    (
        "--prometheus-linger",
        {
            "type": seconds,
            "default": None,
            "metavar": "S",
            "help": "keep --prometheus-port answering S seconds after the run "
            "ended, so that a scrape sees the final totals (default 0)",
        },
    ),
    (
        "--request-timeout",
        {
            "type": seconds,
            "default": DEFAULTS["request_timeout"],
            "help": "seconds a request may wait to connect, and then for each "
            "next part of its answer, before it is an error (default "
            f"{defaults.REQUEST_TIMEOUT:g}); not a "
            "limit on its total time",
        },
    ),
)

SHARED_WITH_RUN = (
    "--api",
    "--accounts",
    "--password",
    "--documented-limit",
    "--documented-burst",
    "--out",
    "--vary-by",
    "--rate-factor",
    "--step-time",
    "--request-timeout",
    "--tolerance",
    "--strict",
    "--expect",
    "--source-ips",
    "--limited-status",
    "--prometheus-port",
    "--prometheus-host",
    "--prometheus-linger",
    "--run-dir",
    "--max-records",
)
SCENARIO_ONLY = {"rate_factor": "--rate-factor", "step_time": "--step-time", "hook_id": "--hook-id"}
PASSWORD_FLAG = "--password (or MMLOAD_PASSWORD)"
LOGIN_FLAGS = {"api": "--api", "accounts": "--accounts", "password": PASSWORD_FLAG}


def login_given(parsed: Any) -> list[str]:
    """The login options (dests) Locust's parsed options hold a value other than the default
    of (a value given equal to the default cannot be told apart from none)."""
    values = {"accounts": "", "api": DEFAULTS["api"], "password": DEFAULTS["password"]}
    return [d for d, default in values.items() if getattr(parsed, d, None) not in (None, default)]


def add_arguments(
    parser: Any,
    only: Collection[str] | None = None,
    locust: bool = True,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Register on Locust's parser (``events.init_command_line_parser``), or ``only`` some of
    them on a plain argparse parser (``locust=False``), e.g. ``mmload run``'s."""
    for flag, spec in OPTIONS:
        if only is not None and flag not in only:
            continue
        kwargs = {k: v for k, v in spec.items() if locust or k not in LOCUST_ONLY}
        if locust:  # read once, checked and written to run.json at init: not editable later
            kwargs["include_in_web_ui"] = False
        if defaults and flag in defaults:
            kwargs["default"] = defaults[flag]
        parser.add_argument(flag, **kwargs)


@dataclass(frozen=True)
class Settings:
    api: str
    accounts: str
    password: str
    documented: Documented
    vary_by: str
    rate_factor: float | None
    step_time: float | None
    hook_id: str
    out: str
    run_dir: str
    max_records: int
    progress: float
    request_timeout: float
    tolerance: float
    strict: bool
    expect: str
    source_ips: str  # as given: see addresses()
    limited_status: frozenset[int]  # the statuses that are refusals (Mattermost's: 429)

    @classmethod
    def from_options(cls, options: Any) -> Settings:
        """Read from Locust's parsed options; a locustfile run without them gets the defaults."""

        def get(name: str, default: Any = None) -> Any:
            value = getattr(options, name, None) if options is not None else None
            return DEFAULTS.get(name, default) if value is None else value

        return cls(
            api=get("api"),
            accounts=str(get("accounts")),
            password=get("password"),
            documented=documented(get("documented_limit"), get("documented_burst")),
            vary_by=get("vary_by"),
            rate_factor=get("rate_factor"),
            step_time=get("step_time"),
            hook_id=get("hook_id", ""),
            out=get("out"),
            run_dir=get("run_dir", ""),
            max_records=int(get("max_records")),
            progress=float(get("progress")),
            request_timeout=float(get("request_timeout")),
            tolerance=float(get("tolerance")),
            strict=bool(get("strict", False)),
            expect=get("expect", "") or "",
            source_ips=str(get("source_ips") or ""),
            limited_status=frozenset(int(s) for s in get("limited_status") or LIMITED),
        )

    def source_of(self, number: int) -> str:
        """The local address user ``number`` (of all processes) sends from ("": the system's
        choice)."""
        return source_ips.pick(self.source_ips, number)

    def public(self) -> dict[str, Any]:
        """For run.json: everything but secrets (the password, and the hook id: whoever has it
        can post; only whether one was given)."""
        return {
            "api": self.api,
            "accounts": self.accounts
            if self.accounts.isdigit() or not self.accounts
            else f"file {self.accounts}",
            "documented_limit": self.documented.to_dict(),
            "vary_by": self.vary_by,
            "rate_factor": self.rate_factor,
            "step_time": self.step_time,
            "hook_id": "set" if self.hook_id else None,
            "max_records": self.max_records,
            "request_timeout": self.request_timeout,
            "tolerance": self.tolerance,
            "strict": self.strict,
            "expect": self.expect,
            "source_ips": self.source_ips or None,
            "limited_status": sorted(self.limited_status),
        }


# -- scenarios and their options ------------------------------------------------------------

NAMES = ("hammer", "probe", "steady", "ramp", "mixed", "polite", "webhook", "bypass")

# the scenario-specific options each scenario acts on (option dests); any other is refused
USES: dict[str, frozenset[str]] = {
    "hammer": frozenset(),
    "probe": frozenset({"step_time"}),
    "steady": frozenset({"rate_factor"}),
    "ramp": frozenset({"step_time"}),
    "mixed": frozenset(),
    "polite": frozenset(),
    "webhook": frozenset({"rate_factor", "hook_id"}),
    "bypass": frozenset(),
}
# scenarios that log in, and so need --accounts
AUTHENTICATED = frozenset(NAMES) - {"webhook"}
# the login options (dests): what every scenario that logs in acts on, and no other
LOGIN = frozenset({"api", "accounts", "password"})


def acts_on(name: str) -> frozenset[str]:
    """The scenario-specific and login options (dests) scenario ``name`` acts on."""
    return USES[name] | (LOGIN if name in AUTHENTICATED else frozenset())


def missing(scenario: str, api: str, has_hook: bool, vary_by: str = "address") -> str:
    """What ``scenario`` needs and was not given (or cannot have), or ""."""
    if scenario == "mixed" and api != "v4":
        return "the mixed scenario needs --api v4 (the 2015 v1 API has no channels or posts)"
    if scenario == "webhook" and not has_hook:
        return "the webhook scenario needs --hook-id (mmload serve lists its hooks)"
    if scenario not in AUTHENTICATED and vary_by == "user":
        return (
            f"the {scenario} scenario logs in to nothing, so no limit can be keyed on a user: "
            "--vary-by user is for the scenarios that log in"
        )
    return ""


def ignored(
    scenarios: dict[str, frozenset[str]], given: Iterable[str], flags: dict[str, str]
) -> str:
    """Why the options ``given`` (dests) cannot be used with these scenarios (name -> options
    they act on), or "" when each acts on at least one of them."""
    used = frozenset().union(*scenarios.values()) if scenarios else frozenset()
    ignored = sorted({flags[g]: g for g in given if g in flags and g not in used}.items())
    if not ignored:
        return ""
    names = " and ".join(sorted(scenarios)) or "these users"
    why: dict[str, list[str]] = {}  # who acts on them -> the flags
    for flag, dest in ignored:
        users = sorted(n for n in NAMES if dest in acts_on(n))
        who = "the scenarios that log in" if set(users) == AUTHENTICATED else ", ".join(users)
        why.setdefault(who or "no scenario", []).append(flag)
    if len(why) == 1:  # one reason for all
        reasons = f"{'it is' if len(ignored) == 1 else 'they are'} for {next(iter(why))}"
    else:
        reasons = "; ".join(
            f"{_listed(listed)} {'is' if len(listed) == 1 else 'are'} for {who}"
            for who, listed in why.items()
        )
    return f"{names} would ignore {_listed([flag for flag, _ in ignored])}: {reasons}"


def _listed(items: list[str]) -> str:
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class Given:
    """What a run was given, as ``mmload run`` and a plain Locust run both see it."""

    scenarios: dict[str, frozenset[str]]  # the run's scenarios (users) -> options they act on
    given: tuple[str, ...]  # the option dests given a value
    api: str = "v4"
    has_hook: bool = False
    vary_by: str = "address"
    documented_limit: Any = None
    prometheus_port: int | None = None
    prometheus_host: str | None = None
    prometheus_linger: float | None = None
    exit_code_on_error: object = None  # Locust's, as given (None or 1: not given)
    distributed: bool = False  # several Locust processes: a master and its workers


def refusal(g: Given) -> str:
    """Why the run cannot start as given ("" when it can): options its scenarios would ignore,
    what a scenario needs and was not given, documented limits that cannot stand together, the
    Prometheus options without their port, Locust's --exit-code-on-error, and a scenario that
    runs in one process given several."""
    return (
        ignored(g.scenarios, g.given, SCENARIO_ONLY | LOGIN_FLAGS)
        or next(
            (m for name in g.scenarios if (m := missing(name, g.api, g.has_hook, g.vary_by))), ""
        )
        or documented_refusal(g.documented_limit)
        or prometheus_refusal(g.prometheus_port, g.prometheus_host, g.prometheus_linger)
        or exit_code_refusal(g.exit_code_on_error)
        or one_process_refusal(g.scenarios, g.distributed)
    )


ONE_PROCESS = frozenset({"bypass"})  # scenarios that run in one process only


def one_process_refusal(scenarios: Iterable[str], distributed: bool) -> str:
    """Why these scenarios cannot run over several Locust processes ("" when they can)."""
    alone = sorted(ONE_PROCESS.intersection(scenarios))
    if not distributed or not alone:
        return ""
    return (
        f"the {alone[0]} scenario runs in one process (one user audits, its bypass.json is "
        "written where it runs, and the account it locks out is every process's): drop "
        "--processes, or run Locust without --master"
    )
