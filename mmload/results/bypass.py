"""The bypass audit's record (``bypass.json`` in the run folder) and its judgement: can a client
dodge the limit by choosing its own key (a forwarding header a server trusts from anyone), by
another spelling of the route, or by a new identity per request?

Each vector is tried on a drained bucket between two controls of the same shape without the
evasion.  It *works* when its requests are accepted beyond what the bucket refills in the
meantime (the controls and the evasion together got more than the refill allows); it is
*undecided* when the controls alone got more than that (the bucket was not drained: nothing to
dodge).  Pure: the scenario that sends the
requests is :mod:`mmload.harness.scenarios.bypass`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mmload.results.folder import atomic_write

BYPASS_JSON = "bypass.json"
EVASIONS = 5  # requests per vector with the evasion
LOCKOUT_AFTER = 10  # failed logins Mattermost locks an account after (MaximumLoginAttempts)
LOCKED = "api.user.check_user_login_attempts.too_many.app_error"
CONTROLS = 3  # requests without it, before and after


@dataclass(frozen=True)
class Vector:
    name: str  # the check is no-bypass:<name>
    kind: str  # forwarding, spelling, identity
    what: str  # in words: the header or the spelling
    header: str = ""  # what it sends: "Name: value", {address} a new spoofed one each request


# documentation ranges (RFC 5737): headers only, no traffic goes there
SPOOFED = ("192.0.2.", "198.51.100.", "203.0.113.")
FORWARDING = (
    Vector("x-forwarded-for", "forwarding", "X-Forwarded-For: <a new address each request>",
           "X-Forwarded-For: {address}"),
    Vector("x-forwarded-for-appended", "forwarding", "X-Forwarded-For: <new address>, <own>",
           "X-Forwarded-For: {address}, 127.0.0.1"),
    Vector("x-real-ip", "forwarding", "X-Real-IP", "X-Real-IP: {address}"),
    Vector("forwarded", "forwarding", "Forwarded: for=<address>", "Forwarded: for={address}"),
    Vector("true-client-ip", "forwarding", "True-Client-IP", "True-Client-IP: {address}"),
    Vector("x-client-ip", "forwarding", "X-Client-IP", "X-Client-IP: {address}"),
    Vector("cf-connecting-ip", "forwarding", "CF-Connecting-IP", "CF-Connecting-IP: {address}"),
    Vector("x-originating-ip", "forwarding", "X-Originating-IP", "X-Originating-IP: {address}"),
    Vector("x-remote-addr", "forwarding", "X-Remote-Addr", "X-Remote-Addr: {address}"),
)  # fmt: skip
SPELLING = (
    Vector("trailing-slash", "spelling", "the path with a trailing slash"),
    Vector("doubled-slash", "spelling", "the path with a doubled slash"),
    Vector("dot-segment", "spelling", "the path with a /./ segment"),
    Vector("path-case", "spelling", "the path in upper case"),
    Vector("percent-encoded", "spelling", "a character of the path percent-encoded"),
    Vector("semicolon-parameter", "spelling", "a ;parameter on the path"),
    Vector("query-string", "spelling", "a query string (a new one each request)"),
    Vector("head-for-get", "spelling", "HEAD instead of GET"),
)
IDENTITY = (
    Vector("new-connection", "identity", "a new connection per request", "Connection: close"),
)
VECTORS = (*FORWARDING, *SPELLING, *IDENTITY)


@dataclass(frozen=True)
class Attempt:
    vector: str
    before: list[int]  # the controls' statuses
    evasion: list[int]  # the evasion's
    after: list[int]
    seconds: float  # from the first control to the last
    detail: str  # the header or path as sent (one example)


def spoofed(n: int) -> str:
    """The ``n``-th address of the documentation ranges."""
    return f"{SPOOFED[n // 254 % len(SPOOFED)]}{n % 254 + 1}"


def spelled(vector: str, path: str, n: int) -> str:
    """``path`` spelled as ``vector`` says."""
    head, _, last = path.rpartition("/")
    return {
        "trailing-slash": path + "/",
        "doubled-slash": path.replace("/", "//", 2).replace("//", "/", 1),
        "dot-segment": f"{head}/./{last}",
        "path-case": path.upper(),
        "percent-encoded": f"{head}/%{ord(last[0]):02X}{last[1:]}",
        "semicolon-parameter": path + ";mmload=1",
        "query-string": f"{path}?mmload={n}",
    }.get(vector, path)


def evasion(vector: Vector, path: str, n: int) -> tuple[str, str, dict[str, str]]:
    """(method, path as sent, extra headers) of the ``n``-th request trying ``vector``."""
    name, _, value = vector.header.format(address=spoofed(n)).partition(": ")
    method = "HEAD" if vector.name == "head-for-get" else "GET"
    return method, spelled(vector.name, path, n), {name: value} if name else {}


def write(
    folder: Path,
    attempts: list[Attempt],
    refill_per_s: float,
    lockout: dict[str, Any] | None = None,
) -> Path:
    path = folder / BYPASS_JSON
    data = {
        "refill_per_s": refill_per_s,
        "attempts": [asdict(a) for a in attempts],
        "lockout": lockout or {},
    }
    return atomic_write(path, json.dumps(data, indent=1))


def read(folder: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((folder / BYPASS_JSON).read_text())
    except (OSError, ValueError):
        return None
    return data


@dataclass(frozen=True)
class Judged:
    vector: Vector
    works: bool | None  # None: undecided (the controls got more than the refill)
    accepted: int
    allowed: int  # what the bucket could have refilled
    detail: str


def judge(data: dict[str, Any], limited: frozenset[int]) -> list[Judged]:
    """Each vector tried, judged; a vector not tried is left out."""
    rate = float(data.get("refill_per_s") or 0.0)
    by_name = {v.name: v for v in VECTORS}
    found = []
    for raw in data.get("attempts", []):
        vector = by_name.get(str(raw.get("vector")))
        if vector is None:
            continue
        before, evasion, after = raw["before"], raw["evasion"], raw["after"]
        allowed = math.ceil(rate * float(raw.get("seconds") or 0.0)) + 1
        control = sum(1 for s in (*before, *after) if s not in limited and s != 0)
        taken = sum(1 for s in evasion if s not in limited and s != 0)
        detail = str(raw.get("detail", ""))
        if control > allowed:  # the controls got more than a drained bucket refills
            found.append(Judged(vector, None, taken, allowed, detail))
            continue
        found.append(
            Judged(vector, taken > 0 and taken + control > allowed, taken, allowed, detail)
        )
    return found


def lockout(data: dict[str, Any], limited: frozenset[int]) -> tuple[bool | None, str]:
    """Whether the right password was refused after the failed logins (True), accepted (False),
    or nothing tells (None), and why, in words."""
    found = data.get("lockout") or {}
    if "then" not in found:
        return None, str(found.get("why") or "the audit made no failed logins")
    failed, then, error_id = list(found.get("failed") or []), int(found["then"]), found.get("then_id")
    refused = sum(1 for s in failed if s in limited)
    if then in limited or refused > len(failed) // 2:
        return None, f"the logins were rate-limited ({refused} of {len(failed)} failed ones refused)"
    if then < 400:
        return False, (f"after {len(failed)} failed logins (every other one with a spoofed "
                       "X-Forwarded-For), the right password still logged in")
    locked = " (Mattermost's lockout)" if error_id == LOCKED else ""
    return True, (f"after {len(failed)} failed logins the right password was refused with "
                  f"{then}{locked}")

