"""``--source-ips``: the local addresses the users send from, so that a server limiting per
address sees several clients from one machine.

A range (``127.0.0.1-127.0.0.4``), a comma list (``127.0.0.1,127.0.0.2``) or both mixed.  Users
take them round-robin by their number among the users of all processes (see
``users.place_of``), so workers share them out too.  Load only ever leaves from this machine's
own addresses: an address is refused unless it can be bound here (every loopback address can;
any other must be assigned to one of this machine's interfaces).

No gevent here: ``mmload run`` checks the option before anything starts.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import socket
from urllib.parse import urlsplit

MAX_ADDRESSES = 4096
EXAMPLE = "a range like 127.0.0.1-127.0.0.4 or a list like 127.0.0.1,127.0.0.2"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=8)
def parse(text: str) -> tuple[str, ...]:
    """The addresses ``text`` names, in order; ValueError says what is wrong with it."""
    found: list[str] = []
    for item in text.split(","):
        first, last = _range(item.strip(), text)
        if len(found) + int(last) - int(first) + 1 > MAX_ADDRESSES:
            raise ValueError(f"{text!r} names more than {MAX_ADDRESSES} addresses")
        found += [str(type(first)(n)) for n in range(int(first), int(last) + 1)]
    twice = sorted({a for a in found if found.count(a) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} listed twice in {text!r}")
    return tuple(found)


def _range(item: str, text: str) -> tuple[Address, Address]:
    start, dash, end = item.partition("-")
    try:
        first = ipaddress.ip_address(start.strip())
        last = ipaddress.ip_address(end.strip()) if dash else first
    except ValueError:
        what = f"an empty item in {text!r}" if not item else f"{item!r} is not an address"
        raise ValueError(f"{what}: give {EXAMPLE}") from None
    if first.version != last.version:
        raise ValueError(f"{item!r} mixes IPv4 and IPv6")
    if last < first:  # type: ignore[operator]  # same version, checked above
        raise ValueError(f"the range {item!r} ends before it starts")
    return first, last


@functools.lru_cache(maxsize=MAX_ADDRESSES)
def unavailable(address: str) -> str:
    """Why this machine cannot send from ``address`` ("" when it can): whether it can bind it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def foreign(addresses: tuple[str, ...]) -> str:
    """Why some of ``addresses`` are refused, or ""."""
    refused = [a for a in addresses if unavailable(a)]
    if not refused:
        return ""
    shown = ", ".join(refused[:3]) + (f" and {len(refused) - 3} more" if len(refused) > 3 else "")
    return (
        f"{shown}: not an address of this machine ({unavailable(refused[0])}); load only "
        "leaves from loopback addresses (127.0.0.0/8, ::1) or ones assigned to this machine's "
        "interfaces"
    )


def option(text: str) -> str:
    """argparse type of ``--source-ips``: the text itself once it is valid (exit 2 if not)."""
    try:
        problem = foreign(parse(text.strip()))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text.strip()


def other_family(text: str, host: str) -> str:
    """Why some of the addresses cannot reach ``host`` at all, an IPv6 source for a host reached
    over IPv4 only or the other way round, or "" (also when the host does not resolve: that
    error is the run's to say)."""
    parts = urlsplit(host)
    try:
        found = socket.getaddrinfo(parts.hostname or "", parts.port or 80, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return ""
    versions = {6 if family == socket.AF_INET6 else 4 for family, *_ in found}
    wrong = [a for a in parse(text) if ipaddress.ip_address(a).version not in versions]
    if not wrong:
        return ""
    mine = ipaddress.ip_address(wrong[0]).version
    theirs = "/".join(str(v) for v in sorted(versions))
    return (
        f"--source-ips {wrong[0]} is IPv{mine}, but {parts.hostname} is reached over "
        f"IPv{theirs} only: no request could leave from it"
    )


def pick(text: str, number: int) -> str:
    """The address of the user with this number among all users ("" without --source-ips)."""
    addresses = parse(text) if text else ()
    return addresses[number % len(addresses)] if addresses else ""


def system_address(host: str) -> str:
    """The local address the system sends to ``host`` from (a UDP connect sends nothing)."""
    parts = urlsplit(host)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((parts.hostname or "127.0.0.1", parts.port or 80))
            return str(s.getsockname()[0])
    except OSError:
        return "unknown"
