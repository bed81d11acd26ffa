"""One response's captured header lines, read with the rules every dialect shares.

A header may be absent, present once, or repeated on several lines.  Structured fields
(RateLimit, RateLimit-Policy) are one value split over lines, so their lines are joined with
", " (RFC 8941 section 4.2).  A plain number has no list syntax: repeated lines that agree are
that number, lines that disagree are malformed.  Whatever is malformed is written down here, so
the snapshot can say it instead of raising.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mmload.dialects import numbers

Raw = str | Sequence[str] | None  # what the collector hands over for one captured name
SHOWN_CHARS = 40  # of each raw value quoted in a problem


def lines(raw: object) -> tuple[str, ...]:
    """A captured value as its header lines: none when absent, several for a repeated header."""
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes, bytearray)) or not isinstance(raw, Sequence):
        return (text(raw),)
    return tuple(text(line) for line in raw)


def text(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, (bytes, bytearray)):
        return raw.decode("latin-1")  # how HTTP/1.1 clients decode field bytes
    return str(raw)


def quote(raws: Iterable[str]) -> str:
    return ", ".join(repr(raw[:SHOWN_CHARS]) for raw in raws)


class Fields:
    """Header lines by lower-case name, and the problems found while reading them."""

    def __init__(self, found: dict[str, tuple[str, ...]]) -> None:
        self.found = found
        self.problems: list[str] = []

    def has(self, name: str) -> bool:
        return name in self.found

    def malformed(self, name: str, raw: str | Iterable[str], why: str = "") -> None:
        shown = quote((raw,) if isinstance(raw, str) else raw)
        self.problems.append(f"malformed {name}: {shown}" + (f" ({why})" if why else ""))

    def single(self, name: str) -> str | None:
        """A plain header's one value; repeated lines count only when they all say the same."""
        found = self.found.get(name)
        if not found:
            return None
        if len({line.strip(" \t") for line in found}) > 1:
            self.malformed(name, found, "repeated with different values")
            return None
        return found[0]

    def number(self, name: str) -> int | float | None:
        """A plain header as a strict number (see ``numbers``); None when absent or malformed."""
        raw = self.single(name)
        if raw is None:
            return None
        value = numbers.number(raw)
        if value is None:
            self.malformed(name, raw)
        return value

    def combined(self, name: str) -> str | None:
        """A structured field's value: its lines joined with ", " as RFC 8941 says."""
        found = self.found.get(name)
        return ", ".join(found) if found else None
