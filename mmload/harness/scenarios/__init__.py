"""Ready scenarios.  Each module is a locustfile: ``locust -f mmload/harness/scenarios/hammer.py``
(or ``locustfiles/hammer.py`` in the repository) with mmload's options.

This module imports no Locust: ``mmload run`` checks a scenario's options with it before starting
anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

NAMES = ("hammer", "probe", "steady", "ramp", "mixed", "polite", "webhook")

# the scenario-specific options each scenario acts on (option dests); any other is refused
USES: dict[str, frozenset[str]] = {
    "hammer": frozenset(),
    "probe": frozenset({"step_time"}),
    "steady": frozenset({"rate_factor"}),
    "ramp": frozenset({"step_time"}),
    "mixed": frozenset(),
    "polite": frozenset(),
    "webhook": frozenset({"rate_factor", "hook_id"}),
}
# scenarios that log in, and so need --accounts
AUTHENTICATED = frozenset(NAMES) - {"webhook"}


def missing(scenario: str, api: str, has_hook: bool) -> str:
    """What ``scenario`` needs and was not given, or ""."""
    if scenario == "mixed" and api != "v4":
        return "the mixed scenario needs --api v4 (the 2015 v1 API has no channels or posts)"
    if scenario == "webhook" and not has_hook:
        return "the webhook scenario needs --hook-id (mmload serve lists its hooks)"
    return ""


def locustfile(name: str) -> Path:
    return Path(__file__).with_name(f"{name}.py")


def refusal(
    scenarios: dict[str, frozenset[str]], given: Iterable[str], flags: dict[str, str]
) -> str:
    """Why the options ``given`` (dests) cannot be used with these scenarios (name -> options
    they use), or "" when each acts on at least one of them."""
    used = frozenset().union(*scenarios.values()) if scenarios else frozenset()
    ignored = sorted(flags[g] for g in given if g in flags and g not in used)
    if not ignored:
        return ""
    names = " and ".join(sorted(scenarios)) or "these users"
    users = {flags[o]: sorted(n for n, u in USES.items() if o in u) for o in flags}
    why = "; ".join(f"{flag} is for {', '.join(users[flag]) or 'no scenario'}" for flag in ignored)
    return f"{names} would ignore {', '.join(ignored)} ({why})"
