"""The bypass audit's record (``bypass.json`` in the run folder) and its judgement: can a client
dodge the limit by choosing its own key (a forwarding header a server trusts from anyone), by
another spelling of the route, or by a new identity per request?

Each vector is tried on a drained bucket, its requests interleaved with controls of the same
shape without the evasion (control, evasion, control, ...).  It *works* when evasions got
through, each between two refused controls, more often than the bucket refills in the meantime
(with what the controls took), at least ``MIN_BETWEEN`` times.  Only acceptances between
refusals count: a fixed window that opens mid-try lets a control through right after the
evasion, so a window's reset, however large, is not mistaken for a dodge.  It is limited like any
request when at least ``MIN_REFUSED`` of its requests were refused.  Otherwise it is undecided:
when the controls alone got more than the refill (the bucket was not drained: nothing to
dodge), when the server answered none of the evasion's requests, or when a slow answer let the
bucket refill in the middle of the try (another try may tell).  Pure: the
sequence is :mod:`mmload.harness.audit`, the requests are sent by
:mod:`mmload.harness.scenarios.bypass`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mmload.results.folder import atomic_write

BYPASS_JSON = "bypass.json"
EVASIONS = 5  # requests per vector with the evasion
# a vector works when at least this many of its requests got through, each between refused
# controls: a refill or a window that frees its oldest requests lets one through now and then
MIN_BETWEEN = 3
VARIANTS = 10  # a vector's spellings repeat after this many (two tries of 5: no repeat)
MIN_REFUSED = 3  # it is limited like any request when at least this many of them were refused
LOCKOUT_AFTER = 10  # failed logins Mattermost locks an account after (MaximumLoginAttempts)
LOCKED = "api.user.check_user_login_attempts.too_many.app_error"


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
    Vector("trailing-slash", "spelling", "the path with trailing slashes"),
    Vector("doubled-slash", "spelling", "the path with a doubled slash"),
    Vector("dot-segment", "spelling", "the path with /./ segments"),
    Vector("path-case", "spelling", "a letter of the path in upper case"),
    Vector("percent-encoded", "spelling", "a letter of the path percent-encoded"),
    Vector("semicolon-parameter", "spelling", "a ;parameter on the path (a new one each request)"),
    Vector("query-string", "spelling", "a query string (a new one each request)"),
    Vector("head-for-get", "spelling", "HEAD instead of GET"),
)
IDENTITY = (
    Vector("new-connection", "identity", "a new connection per request", "Connection: close"),
    Vector("fresh-login", "identity", "a new login (a new token) per request"),
    Vector("http-1.0", "identity", "HTTP/1.0 (no Host header, no keep-alive)"),
)
# how a vector's requests are sent, when not as the run sends any other
SENT_AS = {"fresh-login": "fresh-login", "http-1.0": "http/1.0"}
VECTORS = (*FORWARDING, *SPELLING, *IDENTITY)


@dataclass(frozen=True)
class Request:
    """One request of the audit: ``how`` says how it goes out (``""``: as the run sends any;
    ``fresh-login``: with the token of a login made for it; ``http/1.0``)."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    how: str = ""
    vector: str = ""  # the vector it tries ("": a control)

    def name(self, path: str) -> str:
        """Its name in Locust's statistics: the route, and the vector it tries."""
        return f"{self.method} {path} [{self.vector}]" if self.vector else f"{self.method} {path}"

    def shown(self) -> str:
        """In words, for the record (a fresh token is never shown)."""
        parts = [self.method, self.path, *(f"{h}: {v}" for h, v in self.headers.items())]
        if self.how == "fresh-login":
            parts.append("Authorization: Bearer <the token of a new login>")
        elif self.how:
            parts.append(f"({self.how.upper()})")
        return " ".join(parts)


@dataclass(frozen=True)
class Attempt:
    vector: str
    order: str  # "C" a control, "E" a request with the evasion, in the order sent
    statuses: list[int]  # each request's status, 0 when it could not be sent
    seconds: float  # from the first request to the last
    detail: str  # the request with the evasion as sent (one example)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Attempt:
        """From ``bypass.json``; also a run's written before the controls were interleaved
        (``before``, ``evasion``, ``after``)."""
        if "order" in raw:
            order, statuses = str(raw["order"]), [int(s) for s in raw["statuses"]]
        else:
            parts = [list(raw.get(k) or []) for k in ("before", "evasion", "after")]
            order = "C" * len(parts[0]) + "E" * len(parts[1]) + "C" * len(parts[2])
            statuses = [int(s) for part in parts for s in part]
        return cls(
            str(raw.get("vector")),
            order,
            statuses,
            float(raw.get("seconds") or 0.0),
            str(raw.get("detail", "")),
        )


def spoofed(n: int) -> str:
    """The ``n``-th address of the documentation ranges."""
    return f"{SPOOFED[n // 254 % len(SPOOFED)]}{n % 254 + 1}"


def headers_of(vector: Vector, n: int) -> dict[str, str]:
    """The header ``vector`` sends, claiming the ``n``-th spoofed address ({}: none)."""
    name, _, value = vector.header.format(address=spoofed(n)).partition(": ")
    return {name: value} if name else {}


def forwarding(i: int, n: int) -> dict[str, str]:
    """The ``i``-th forwarding header (in turn), claiming the ``n``-th spoofed address."""
    return headers_of(FORWARDING[i % len(FORWARDING)], n)


def spelled(vector: str, path: str, n: int) -> str:
    """``path`` spelled as ``vector`` says, its ``n``-th variant: consecutive requests spell it
    differently, so a limiter with a bucket per spelling gives each a fresh one."""
    head, _, last = path.rpartition("/")
    k = n % VARIANTS
    slashes = [i for i, c in enumerate(path) if c == "/"][1:]  # "//x" would name a host "x"
    letters = [i for i, c in enumerate(path) if c.isalpha()]
    at = slashes[n % len(slashes)] if slashes else 0
    i = letters[n % len(letters)] if letters else 0
    if vector == "trailing-slash":
        return path + "/" * (1 + k)
    if vector == "doubled-slash":
        return path[:at] + "/" * (1 + n // max(len(slashes), 1) % 4) + path[at:]
    if vector == "dot-segment":
        return f"{head}{'/.' * (1 + k)}/{last}"
    if vector == "path-case" and letters:  # the letters the bits of a number pick, upper-cased
        mask = n % (2 ** min(len(letters), 16) - 1) + 1
        up = {at for b, at in enumerate(letters[:16]) if mask >> b & 1}
        return "".join(c.upper() if j in up else c for j, c in enumerate(path))
    if vector == "percent-encoded" and letters:
        return f"{path[:i]}%{ord(path[i]):02X}{path[i + 1 :]}"
    if vector == "semicolon-parameter":
        return f"{path};mmload={n}"
    if vector == "query-string":
        return f"{path}?mmload={n}"
    return path


def control(path: str) -> Request:
    return Request("GET", path)


def evasion(vector: Vector, path: str, n: int) -> Request:
    """The ``n``-th request trying ``vector``."""
    method = "HEAD" if vector.name == "head-for-get" else "GET"
    path = spelled(vector.name, path, n)
    sent_as = SENT_AS.get(vector.name, "")
    return Request(method, path, headers_of(vector, n), sent_as, vector.name)


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
    works: bool | None  # None: undecided, ``why`` says why
    accepted: int  # the evasion's requests that got through
    between: int  # of those, each between two refused controls
    allowed: int  # what the bucket could have refilled
    detail: str
    why: str = ""
    again: bool = False  # undecided, but another try, on a drained bucket, may decide it
    served: tuple[int, ...] = ()  # the statuses of the evasion's requests that got through


def through(status: int, limited: Collection[int]) -> bool:
    """Let through the limit: answered, neither refused nor unparsable (a 400 tells nothing of
    the limit) nor a server error."""
    return 0 < status < 500 and status != 400 and status not in limited


def judge_one(vector: Vector, tried: Attempt, rate: float, limited: Collection[int]) -> Judged:
    """One try judged from its first refused control on: before it the bucket still had some to
    give (the drain stops at a few refusals, and may stop short of them)."""
    allowed = math.ceil(rate * tried.seconds) + 1
    sent = list(zip(tried.order, tried.statuses, strict=False))
    first = next((i for i, (k, s) in enumerate(sent) if k == "C" and s in limited), len(sent))
    drained = sent[first:]
    taken = sum(through(s, limited) for k, s in drained if k == "C")
    accepted = sum(through(s, limited) for k, s in sent if k == "E")
    between = waiting = 0  # evasions through since the last control
    after_refusal = True  # the last control was refused (``drained`` starts with one)
    for kind, status in drained:
        if kind == "E":
            waiting += 1 if through(status, limited) else 0
            continue
        refused = status in limited
        between += waiting if refused and after_refusal else 0
        waiting, after_refusal = 0, refused
    served = tuple(sorted({st for k, st in sent if k == "E" and through(st, limited)}))
    found = Judged(vector, None, accepted, between, allowed, tried.detail, served=served)
    if not drained or taken > allowed:
        got = sum(through(s, limited) for k, s in sent if k == "C")
        why = (
            f"the requests without the evasion got {got} through, more than the {allowed} a "
            "drained bucket refills: it was not drained"
        )
        return replace(found, why=why, again=True)
    if not any(through(s, limited) or s in limited for k, s in sent if k == "E"):
        statuses = " ".join(str(s) for k, s in sent if k == "E")
        why = f"the server neither let through nor refused the evasion's requests ({statuses})"
        return replace(found, why=why)
    if between >= MIN_BETWEEN and between + taken > allowed:
        return replace(found, works=True)
    held = sum(s in limited for k, s in sent if k == "E")
    if held >= MIN_REFUSED:
        return replace(found, works=False)
    why = (
        f"{accepted} of {EVASIONS} got through, {between} of them between refused requests "
        f"without it, in {tried.seconds:g} s (a drained bucket refills {allowed}): neither "
        "a dodge nor refused"
    )
    return replace(found, why=why, again=True)


def judge(data: dict[str, Any], limited: Collection[int]) -> list[Judged]:
    """Each vector tried, judged on its first decided try (its last when none is); a vector
    not tried is left out."""
    rate = float(data.get("refill_per_s") or 0.0)
    by_name = {v.name: v for v in VECTORS}
    found: dict[str, Judged] = {}
    for raw in data.get("attempts", []):
        vector = by_name.get(str(raw.get("vector")))
        if vector is None:
            continue
        done = found.get(vector.name)
        if done is None or done.works is None:
            found[vector.name] = judge_one(vector, Attempt.of(raw), rate, limited)
    return list(found.values())


def lockout(data: dict[str, Any], limited: Collection[int]) -> tuple[bool | None, str]:
    """Whether the right password was refused after the failed logins (True), accepted (False),
    or nothing tells (None), and why, in words."""
    found = data.get("lockout") or {}
    if "then" not in found:
        return None, str(found.get("why") or "the audit made no failed logins")
    failed, then, error_id = (
        list(found.get("failed") or []),
        int(found["then"]),
        found.get("then_id"),
    )
    refused = sum(1 for s in failed if s in limited)
    if then in limited or refused > len(failed) // 2:
        return (
            None,
            f"the logins were rate-limited ({refused} of {len(failed)} failed ones refused)",
        )
    lost = sum(1 for s in failed if not 0 < s < 500)
    if not 0 < then < 500 or lost > len(failed) // 2:
        return None, (
            f"the logins got no answer or a server error ({lost} of {len(failed)} "
            f"failed ones, and {then or 'none'} for the right password)"
        )
    addresses = int(found.get("addresses") or 1)
    if then < 400:
        spread = f", from {addresses} addresses in turn" if addresses > 1 else ""
        return False, (
            f"after {len(failed)} failed logins (every other one with a forwarding "
            f"header, each in turn{spread}), the right password still logged in"
        )
    locked = " (Mattermost's lockout)" if error_id == LOCKED else ""
    return True, (
        f"after {len(failed)} failed logins the right password was refused with {then}{locked}"
    )
