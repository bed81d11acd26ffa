"""Argument types the commands share: each refuses a bad value with a reason (exit 2)."""

from __future__ import annotations

import argparse
import re

from mmload.harness.options import non_negative

__all__ = ["non_negative", "password", "port", "positive", "run_time"]

# Locust's -t forms (20, 20s, 3m, 2h, 1h20m, 3h30m10s), in ASCII digits only: Locust itself also
# takes other scripts' digits, and turns an hour count too big for a timedelta into a traceback
_DURATION = re.compile(r"([0-9]+)|(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
MAX_RUN_TIME = 365 * 86400  # seconds: a year


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def password(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty password would let nobody log in")
    return text


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, not {value}")
    return value


def duration_seconds(text: str) -> int:
    """``20``, ``20s``, ``3m``, ``2h``, ``1h20m``, ``3h30m10s`` in seconds, from 1 s to a year;
    ArgumentTypeError otherwise."""
    match = _DURATION.fullmatch(text)
    if match is None or not text:
        raise argparse.ArgumentTypeError(f"write a run time like 30s, 5m or 1h20m, not {text!r}")
    plain, hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
    seconds = plain + 3600 * hours + 60 * minutes + secs
    if not 1 <= seconds <= MAX_RUN_TIME:
        raise argparse.ArgumentTypeError(
            f"a run time is at least 1 s and at most a year, not {text!r}"
        )
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest of Locust's forms: 90 -> ``1m30s``, 3600 -> ``1h``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def run_time(text: str) -> str:
    """``-t/--run-time``: checked here (Locust would fail later, or run forever on 0), and
    passed on to Locust in its canonical form."""
    return format_duration(duration_seconds(text))
