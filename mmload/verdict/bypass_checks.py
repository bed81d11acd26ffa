"""One check per evasion the bypass audit tried (``no-bypass:<vector>``): an error when its
requests got through a bucket that still refused the same requests without it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from mmload.results import bypass
from mmload.verdict.schema import ERROR, Check

PREFIX = "no-bypass:"
LOCKOUT = "login-lockout"
CAUSES = {
    "forwarding": "the server (or a proxy before it) keys its limit on a header any client "
    "can send; trust it only from your own proxy (nginx: set_real_ip_from)",
    "spelling": "the limit is keyed on the path as sent; key it on the route after the "
    "path is normalised",
    "identity": "the limit is keyed on something each connection, login or protocol version "
    "renews (Mattermost's VaryByUser keys on the token, which each login renews)",
}


def checks(folder: Path, limited: Collection[int]) -> list[Check]:
    """The folder's ``bypass.json`` judged; none when the run made no audit."""
    data = bypass.read(folder)
    if data is None:
        return []
    passed, why = bypass.lockout(data, limited)
    expected = f"an account locked after {bypass.LOCKOUT_AFTER} failed logins"
    found = [
        Check(
            LOCKOUT,
            passed,
            ERROR,
            expected,
            why if passed is not None else "-",
            why if passed is not None else f"not decided: {why}",
            ""
            if passed is not False
            else "the server does not lock an account out after "
            "failed logins (Mattermost's ServiceSettings.MaximumLoginAttempts)",
        )
    ]
    for j in bypass.judge(data, limited):
        v = j.vector
        expected = f"refused like the control ({j.allowed} may refill)"
        observed = f"{j.accepted} of {bypass.EVASIONS} got through"
        if j.works is None:
            found.append(
                Check(PREFIX + v.name, None, ERROR, expected, "-", f"not decided: {j.why}")
            )
        elif j.works:
            found.append(
                Check(
                    PREFIX + v.name,
                    False,
                    ERROR,
                    expected,
                    observed,
                    f"{v.what} dodges the limit: {j.between} of {bypass.EVASIONS} requests "
                    f"with it got through, each between two requests without it that were "
                    f"refused (e.g. {j.detail}){_unserved(j.served)}",
                    CAUSES[v.kind],
                )
            )
        else:
            found.append(
                Check(
                    PREFIX + v.name,
                    True,
                    ERROR,
                    expected,
                    observed,
                    f"{v.what} is limited like any request",
                )
            )
    return found


def _unserved(statuses: tuple[int, ...]) -> str:
    """When the server let them past the limit only to turn them down (a spelling it does not
    route, a method it does not allow): said, as the dodge then serves an attacker little."""
    if not statuses or min(statuses) < 400:
        return ""
    answered = "/".join(str(s) for s in statuses)
    return f"; answered {answered}: past the limit, but not served"


def explained(checks: list[Check], audit: list[Check]) -> list[Check]:
    """The run's other checks, where an evasion that worked is what made them fail: requests
    that dodged the limit went through beyond it, so that is their cause, not another."""
    dodged = [c.id.removeprefix(PREFIX) for c in audit if c.passed is False and c.id != LOCKOUT]
    if not dodged:
        return checks
    cause = (
        f"requests that dodged the limit ({', '.join(dodged)}: see their no-bypass checks) "
        "went through beyond it"
    )
    return [replace(c, diagnosis=cause) if c.passed is False else c for c in checks]
