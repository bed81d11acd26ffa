"""mmload's options on Locust's command line and web UI, and the settings read from them."""

from __future__ import annotations

import argparse
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from mmload import defaults
from mmload.harness import source_ips
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
    "max_records": 2_000_000,
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


def progress_interval(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 (no status lines) or seconds, not {text}")
    return value


OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--api", {"choices": ("v4", "v1"), "default": DEFAULTS["api"], "include_in_web_ui": True,
               "help": "log in with API v4 (login_id) or the 2015 v1 (name/email)"}),
    ("--accounts", {"default": DEFAULTS["accounts"], "include_in_web_ui": True, "metavar": "FILE|N",
                    "help": "the accounts to log in with: a CSV file login_id,password[,team], "
                    "or N for the reference server's seeded user1..userN; required by "
                    "scenarios that log in"}),
    ("--password", {"default": DEFAULTS["password"], "is_secret": True,
                    "env_var": "MMLOAD_PASSWORD",
                    "help": "password of the seeded accounts (or MMLOAD_PASSWORD; never written "
                    "anywhere)"}),
    ("--documented-limit", {"type": documented_text, "default": DEFAULTS["documented_limit"],
                            "action": "append",
                            "help": "the rate the documentation promises, e.g. 10/s (default: "
                            f"Mattermost's documented {defaults.DOCUMENTED_LIMIT}, burst "
                            f"{defaults.MAX_BURST}); again for a route with a "
                            "limit and a bucket of its own: 'POST /api/v4/users/login=10/min'"}),
    ("--documented-burst", {"type": non_negative, "default": DEFAULTS["documented_burst"],
                            "include_in_web_ui": True,
                            "help": "the documented burst (Mattermost's MaxBurst); none when "
                            "--documented-limit is given alone"}),
    ("--vary-by", {"choices": ("address", "user", "shared"), "default": DEFAULTS["vary_by"],
                   "help": "what the server keys its limit on (Mattermost: address; shared: one "
                   "bucket for every client, as Mattermost with both VaryBy settings off)"}),
    ("--rate-factor", {"type": factor, "default": None, "include_in_web_ui": True,
                       "help": "steady and webhook: offered rate as a multiple of the documented "
                       "limit (steady: 0.5, webhook: 2)"}),
    ("--step-time", {"type": seconds, "default": None,
                     "help": "ramp and probe: seconds per step (default: what the run has "
                     "left, shared out among the steps)"}),
    ("--hook-id", {"default": "", "include_in_web_ui": True, "is_secret": True,
                   "env_var": HOOK_ID_ENV,
                   "help": "webhook: the incoming hook id to post to (whoever has it can post: "
                   "never written anywhere)"}),
    ("--out", {"default": DEFAULTS["out"], "help": "run folders go under this directory"}),
    ("--run-dir", {"default": "", "help": "write the run folder exactly here"}),
    ("--max-records", {"type": non_negative, "default": DEFAULTS["max_records"],
                       "help": "per-request records kept in the run folder (totals stay exact)"}),
    ("--progress", {"type": progress_interval, "default": DEFAULTS["progress"],
                    "help": "seconds between status lines (0: none)"}),
    ("--tolerance", {"type": fraction, "default": DEFAULTS["tolerance"],
                     "help": "verdict: how far the enforced rate and burst may be from the "
                     f"documented ones (default {defaults.TOLERANCE:g}: "
                     f"{defaults.TOLERANCE * 100:g}%%)"}),
    ("--strict", {"action": "store_true", "default": False,
                  "help": "verdict: warnings (headers meaning something else than documented) "
                  "fail too"}),
    ("--expect", {"choices": ("mattermost", "generic"), "default": "",
                  "help": "verdict: hold the headers to Mattermost's API documentation, or to "
                  "none (default: Mattermost when the server says it is)"}),
    ("--source-ips", {"type": source_ips.option, "default": None, "metavar": "RANGE|LIST",
                      "help": "send from these local addresses, the users taking them in turn "
                      "across all processes: a range 127.0.0.1-127.0.0.4 or a list "
                      "127.0.0.1,127.0.0.2 (loopback, or assigned to this machine)"}),
    ("--limited-status", {"type": limited_statuses, "default": DEFAULTS["limited_status"],
                          "metavar": "STATUS[,STATUS]",
                          "help": "the HTTP statuses that are refusals (limited, not failed), "
                          "comma-separated, e.g. 429,503 for nginx's limit_req, which answers "
                          "503 unless limit_req_status says otherwise (default 429)"}),
    ("--request-timeout", {"type": seconds, "default": DEFAULTS["request_timeout"],
                           "help": "seconds a request may wait to connect, and then for each "
                           "next part of its answer, before it is an error (default "
                           f"{defaults.REQUEST_TIMEOUT:g}); not a "
                           "limit on its total time"}),
)  # fmt: skip

SHARED_WITH_RUN = (
    "--api", "--accounts", "--password", "--documented-limit", "--documented-burst", "--out",
    "--vary-by", "--rate-factor", "--step-time", "--request-timeout", "--tolerance", "--strict",
    "--expect", "--source-ips", "--limited-status",
)  # fmt: skip
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
