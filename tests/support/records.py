"""Records as a collector makes them, for tests of what reads them: single responses with
Mattermost's headers, and seconds of a saturated bucket."""

from __future__ import annotations

from mmload.results.record import Record

ME = "GET /api/v4/users/me"
LOGIN = "POST /api/v4/users/login"
POSTS = "GET /api/v4/channels/{channel_id}/posts"


def record(
    sent: float,
    status: int,
    endpoint: str = ME,
    key: str = "addr:a",
    remaining: float | None = None,
) -> Record:
    """A response; with Mattermost's headers (Limit 101, Reset 1) when ``remaining`` is given."""
    limit, reset = (101.0, 1.0) if remaining is not None else (None, None)
    rest = (None, None, "", "mattermost", None, "")  # Retry-After .. error
    return Record(sent, 3.0, endpoint, status, key, "", "addr:a", limit, remaining, reset, *rest)


def saturated(
    seconds: range,
    accepted: int = 10,
    limited: int = 30,
    key: str = "addr:a",
    endpoint: str = ME,
    offset: float = 0.0,
) -> list[Record]:
    """Each second: ``accepted`` 200s (Remaining counting down), then ``limited`` 429s."""
    out = []
    for s in seconds:
        out += [
            record(s + offset + i / 50, 200, endpoint, key, remaining=float(accepted - 1 - i))
            for i in range(accepted)
        ]
        out += [
            record(s + offset + 0.5 + i / 100, 429, endpoint, key, remaining=0.0)
            for i in range(limited)
        ]
    return out
