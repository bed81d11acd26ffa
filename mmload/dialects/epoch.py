"""The X-Ratelimit names with Reset as a UNIX time, as GitHub and Flask-Limiter send it.

Nothing in the names says which meaning a server uses (Mattermost's own 2015 document claims
epoch while its server sends a delta), so the value decides: a Reset above 10^9 seconds (2001)
is an epoch; no real window is 31 years long.
"""

from __future__ import annotations

import math

from mmload.dialects import mattermost
from mmload.dialects.fields import Fields
from mmload.dialects.snapshot import Headers, Snapshot
from mmload.limiter.decision import NS, Decision

NAME = "epoch"
NAMES = mattermost.NAMES
EPOCH_ABOVE = 1_000_000_000


def render(d: Decision, wall_now: float, window_s: int) -> Headers:
    return [
        ("X-Ratelimit-Limit", str(d.limit)),
        ("X-Ratelimit-Remaining", str(d.remaining)),
        ("X-Ratelimit-Reset", str(math.ceil(wall_now + d.reset_after_ns / NS))),
    ]


def is_epoch(reset: float | None) -> bool:
    return reset is not None and reset > EPOCH_ABOVE


def parse(fields: Fields) -> Snapshot:
    """The X-Ratelimit family, named ``epoch`` or ``mattermost`` by what its Reset holds."""
    snapshot = mattermost.parse(fields)
    return snapshot._replace(dialect=NAME) if is_epoch(snapshot.reset) else snapshot
