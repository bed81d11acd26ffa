"""UTC, the one clock of run folders and the notes about them, and the ways mmload writes it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """This instant, in UTC."""
    return datetime.now(UTC)


def stamp(when: datetime | None = None) -> str:
    """``20250131T235959Z`` (now by default): how a run or comparison folder's name starts."""
    return (when or now()).strftime("%Y%m%dT%H%M%SZ")


def iso(when: datetime) -> str:
    """``2025-01-31T23:59:59Z``: whole seconds, Z for UTC (run.json's started_at, ended_at)."""
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def clock(second: float) -> str:
    """``23:59:59``: the UTC time of day of a UNIX time, for notes about a run."""
    return datetime.fromtimestamp(second, UTC).strftime("%H:%M:%S")
