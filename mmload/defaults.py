"""Defaults that more than one stage relies on, defined once.

Mattermost's ``RateLimitSettings`` defaults (10 requests/s, MaxBurst 100, a store of 10,000 keys,
keyed by remote address) are what the reference server enforces and what the docs promise when
the user documents nothing else.
"""

from __future__ import annotations

PER_SEC = 10
MAX_BURST = 100
MEMORY_STORE_SIZE = 10_000
DOCUMENTED_LIMIT = f"{PER_SEC}/s"
ALGORITHM = "gcra"  # the reference server's, as Mattermost's (throttled)
DIALECT = "mattermost"  # the rate-limit headers the reference server sends

SEEDED_PASSWORD = "mmload-pass"  # every account `mmload serve` seeds (user1..userN) has it
SEEDED_ACCOUNTS = 100
SERVE_PORT = 8065  # Mattermost's own port

TOLERANCE = 0.05  # how far an enforced rate or burst may be from the documented one

LOGIN_PHASE = 1.0  # seconds: the load starts this long after Locust's test start (logins first)
REQUEST_TIMEOUT = 60.0  # seconds a request may wait (to connect, for each next part of its answer)

# a long run's verdict: the first HEAD_RECORDS records (in send order) are judged whole, every
# later STRETCH_RECORDS again by the checks that do not depend on how a stretch began
HEAD_RECORDS = 2_000_000
STRETCH_RECORDS = 1_000_000
DISK_RESERVE = 1_000_000_000  # bytes a run leaves free on its disk: recording stops before
