"""Ready scenarios.  Each module is a locustfile: ``locust -f mmload/harness/scenarios/hammer.py``
(or ``locustfiles/hammer.py`` in the repository) with mmload's options.

This module imports no Locust: ``mmload run`` checks a scenario's options with it before starting
anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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
        return (f"the {scenario} scenario logs in to nothing, so no limit can be keyed on a user: "
                "--vary-by user is for the scenarios that log in")  # fmt: skip
    return ""


def locustfile(name: str) -> Path:
    return Path(__file__).with_name(f"{name}.py")


def refusal(
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
        reasons = "; ".join(f"{_listed(listed)} {'is' if len(listed) == 1 else 'are'} for {who}"
                            for who, listed in why.items())  # fmt: skip
    return f"{names} would ignore {_listed([flag for flag, _ in ignored])}: {reasons}"


def _listed(items: list[str]) -> str:
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"
