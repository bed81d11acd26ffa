"""mmload's options on Locust's command line and web UI, and the settings read from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmload.rate import Rate

DEFAULTS: dict[str, Any] = {
    "api": "v4",
    "accounts": "100",
    "password": "mmload-pass",
    "documented_limit": "10/s",
    "documented_burst": 100,
    "vary_by": "address",
    "out": "results",
    "max_records": 2_000_000,
    "progress": 5.0,
}


def add_arguments(parser: Any) -> None:
    """Register on Locust's parser (``events.init_command_line_parser``)."""
    g = parser  # Locust's own add_argument knows include_in_web_ui and is_secret; groups do not
    g.add_argument(
        "--api",
        choices=("v4", "v1"),
        default=DEFAULTS["api"],
        include_in_web_ui=True,
        help="log in with API v4 (login_id) or the 2015 v1 (name/email)",
    )
    g.add_argument(
        "--accounts",
        default=DEFAULTS["accounts"],
        include_in_web_ui=True,
        help="N for the reference server's seeded user1..userN, or a CSV file "
        "login_id,password[,team]",
    )
    g.add_argument(
        "--password",
        default=DEFAULTS["password"],
        is_secret=True,
        env_var="MMLOAD_PASSWORD",
        help="password of the seeded accounts (never written anywhere)",
    )
    g.add_argument(
        "--documented-limit",
        default=DEFAULTS["documented_limit"],
        include_in_web_ui=True,
        help="the rate the server's documentation promises, e.g. 10/s",
    )
    g.add_argument(
        "--documented-burst",
        type=int,
        default=DEFAULTS["documented_burst"],
        include_in_web_ui=True,
        help="the documented burst (Mattermost's MaxBurst)",
    )
    g.add_argument(
        "--vary-by",
        choices=("address", "user"),
        default=DEFAULTS["vary_by"],
        help="what the server keys its limit on (Mattermost: address by default)",
    )
    g.add_argument(
        "--rate-factor",
        type=float,
        default=None,
        include_in_web_ui=True,
        help="offered rate as a multiple of the documented limit (steady: 0.5, webhook: 2)",
    )
    g.add_argument(
        "--step-time",
        type=float,
        default=None,
        help="ramp: seconds per step (default: run time / 5, or 10)",
    )
    g.add_argument(
        "--hook-id",
        default="",
        include_in_web_ui=True,
        help="webhook: the incoming hook id to post to",
    )
    g.add_argument("--out", default=DEFAULTS["out"], help="run folders go under this directory")
    g.add_argument("--run-dir", default="", help="write the run folder exactly here")
    g.add_argument(
        "--max-records",
        type=int,
        default=DEFAULTS["max_records"],
        help="per-request records kept in the run folder (totals stay exact)",
    )
    g.add_argument("--progress", type=float, default=DEFAULTS["progress"],
                   help="seconds between status lines (0: none)")  # fmt: skip


@dataclass(frozen=True)
class Settings:
    api: str
    accounts: str
    password: str
    documented: Rate
    vary_by: str
    rate_factor: float | None
    step_time: float | None
    hook_id: str
    out: str
    run_dir: str
    max_records: int
    progress: float

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
            documented=Rate.parse(get("documented_limit"), int(get("documented_burst"))),
            vary_by=get("vary_by"),
            rate_factor=get("rate_factor"),
            step_time=get("step_time"),
            hook_id=get("hook_id", ""),
            out=get("out"),
            run_dir=get("run_dir", ""),
            max_records=int(get("max_records")),
            progress=float(get("progress")),
        )

    def public(self) -> dict[str, Any]:
        """For run.json: everything but the password."""
        return {
            "api": self.api,
            "accounts": self.accounts if self.accounts.isdigit() else f"file {self.accounts}",
            "documented_limit": {
                "per_sec": self.documented.per_sec,
                "burst": self.documented.burst,
            },
            "vary_by": self.vary_by,
            "rate_factor": self.rate_factor,
            "step_time": self.step_time,
            "hook_id": self.hook_id,
            "max_records": self.max_records,
        }
