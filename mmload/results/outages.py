"""Whether the target kept answering: stretches where it failed every request, and too many
failed requests overall.  Read from the timeline (one row per second), so any run folder can say.

An *outage* is a stretch of seconds in which requests were sent and every one of them failed (no
answer, or a server error: not accepted, not a 429; a 4xx is the server answering, as a wrong
password's 401 is).  Seconds that sent nothing inside it belong
to it (users waiting for answers that never come send nothing), and it needs a few failed
requests, not one unlucky one.  A run with an outage, or with more than ``ERROR_SHARE`` of its
requests failed, is *impaired*: what it measured may not be what the server does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mmload.results import utc

OUTAGE_MIN_ERRORS = 3  # failed requests in a row, with nothing answered between them
ERROR_SHARE = 0.05  # of the requests other than logins


@dataclass(frozen=True)
class Outage:
    start: int  # the first UNIX second in which every request failed
    end: int  # the second after the last one
    errors: int
    to_the_end: bool = False  # nothing was answered again before the run ended

    @property
    def seconds(self) -> int:
        return self.end - self.start

    def note(self) -> str:
        until = "the end of the run" if self.to_the_end else utc.clock(self.end) + " UTC"
        return (
            f"the target failed every request from {utc.clock(self.start)} UTC to {until} "
            f"({self.seconds} s, {self.errors} errors)"
        )


def _count(row: Mapping[str, float | None], column: str) -> int:
    return int(row.get(column) or 0)


def find_outages(rows: Iterable[Mapping[str, float | None]]) -> list[Outage]:
    """The outages of a timeline (rows of ``second``, ``offered``, ``errors``,
    ``client_errors``; in order)."""
    spans: list[list[int]] = []  # [first second, last second, errors]
    current: list[int] | None = None
    last_sent = None
    for row in rows:
        offered = _count(row, "offered")
        errors = _count(row, "errors") - _count(row, "client_errors")
        if not offered:
            continue
        second = _count(row, "second")
        last_sent = second
        if errors < offered:
            current = None
        elif current is None:
            current = [second, second, errors]
            spans.append(current)
        else:
            current[1], current[2] = second, current[2] + errors
    return [
        Outage(first, last + 1, errors, to_the_end=last == last_sent)
        for first, last, errors in spans
        if errors >= OUTAGE_MIN_ERRORS
    ]


def error_share_note(errors: int, offered: int) -> str:
    """A note when more than ``ERROR_SHARE`` of the requests (logins aside) failed, else ""."""
    if not offered or errors <= ERROR_SHARE * offered:
        return ""
    return (
        f"{errors / offered:.0%} of the requests other than logins failed ({errors} of "
        f"{offered}): more than {ERROR_SHARE:.0%}"
    )


def stopped_users_note(counters: Mapping[str, int]) -> str:
    """Users that gave up before the end (counters ``stopped: <why>``), or ""."""
    why = {k.split(":", 1)[1].strip(): n for k, n in counters.items() if k.startswith("stopped:")}
    total = sum(why.values())
    if not total:
        return ""
    reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(why.items()))
    return f"{total} user(s) stopped before the end of the run: {reasons}"
