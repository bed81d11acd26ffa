"""The one line ``mmload serve`` prints for machines, first, once it answers: a JSON object with
where it listens and how it is set up.  Whoever starts a server (``mmload run``, the tests)
reads this line with :func:`parse`; the lines after it are for people and may change.

``{"mmload_serve": "ready", "url": ..., "stats": ..., "limits": {...} | null, "limits_text":
..., "accounts": N, "team": ..., "cluster": bool, "hooks": {channel: url}}``
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mmload.server.limiting import LimitSettings

MARK = "mmload_serve"


@dataclass(frozen=True)
class Ready:
    url: str
    limits_text: str  # how it limits, in words: "rate limit 10/s, burst 100, gcra, ..."
    limits: dict[str, Any] | None = None  # None: rate limiting off
    accounts: int = 0
    team: str = ""
    cluster: bool = False
    hooks: dict[str, str] = field(default_factory=dict)  # channel name -> the hook's URL

    @property
    def stats(self) -> str:
        return f"{self.url}/mmload/stats"

    def line(self) -> str:
        fields = {
            MARK: "ready",
            "url": self.url,
            "stats": self.stats,
            "limits": self.limits,
            "limits_text": self.limits_text,
            "accounts": self.accounts,
            "team": self.team,
            "cluster": self.cluster,
            "hooks": self.hooks,
        }
        return json.dumps(fields, separators=(",", ":"))


def of_limits(limits: LimitSettings) -> tuple[dict[str, Any] | None, str]:
    """The limiter's settings as the ready line gives them, and in words."""
    if not limits.enabled:
        return None, "rate limiting off"
    keying = limits.keying
    vary = [
        name
        for name, on in (
            ("remote address", keying.vary_by_remote_addr),
            ("user", keying.vary_by_user),
        )
        if on
    ]
    if keying.vary_by_header:
        vary.append(f"header {keying.vary_by_header}")
    if keying.trust_forwarded:
        vary.append("X-Forwarded-For when sent")
    if keying.per_route:
        vary.append("exact path")
    rate = limits.rate
    faults = sorted(limits.faults)
    text = (
        f"rate limit {rate.per_sec:g}/s, burst {rate.burst}, {limits.algorithm}, "
        f"{limits.dialect} headers, by {' + '.join(vary) or 'nothing'}"
    ) + (f", faults: {', '.join(faults)}" if faults else "")
    settings = {
        "per_sec": rate.per_sec,
        "burst": rate.burst,
        "algorithm": limits.algorithm,
        "dialect": limits.dialect,
        "vary_by": vary,
        "faults": faults,
    }
    return settings, text


def parse(line: str) -> Ready | None:
    """The ready line's contents; None when ``line`` is not it."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get(MARK) != "ready" or not data.get("url"):
        return None
    return Ready(
        url=str(data["url"]),
        limits_text=str(data.get("limits_text", "")),
        limits=data.get("limits"),
        accounts=int(data.get("accounts") or 0),
        team=str(data.get("team", "")),
        cluster=bool(data.get("cluster")),
        hooks={str(k): str(v) for k, v in (data.get("hooks") or {}).items()},
    )
