"""Accounts the Locust users log in with: a CSV file, or the reference server's seeded users."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from mmload import defaults

DEFAULT_TEAM = "mmload"
SEEDED_PASSWORD = defaults.SEEDED_PASSWORD
MAX_SEEDED = 100_000  # --accounts N: more would only take memory and time to list


FILE_PASSWORDS = (
    "--password (or MMLOAD_PASSWORD) is the seeded accounts' password, and --accounts FILE "
    "holds each account's own: drop --password, or unset MMLOAD_PASSWORD"
)
REQUIRED = (
    "--accounts is required to log in: a CSV file login_id,password[,team], or N for the "
    "reference server's seeded user1..userN (mmload logs in only with accounts you name)"
)


DISPOSABLE = "disposable"


class AccountsError(ValueError):
    """A clear, user-facing problem with the accounts (never includes a password)."""


@dataclass(frozen=True)
class Account:
    login_id: str  # username or email (v4); email (v1)
    password: str
    team: str = DEFAULT_TEAM
    # whether the bypass audit may lock it out (a 4th column "disposable"; the reference
    # server's seeded accounts are)
    disposable: bool = False

    def __repr__(self) -> str:  # keep passwords out of logs and tracebacks
        return f"Account({self.login_id!r}, team={self.team!r})"


def seeded(count: int, password: str = SEEDED_PASSWORD) -> list[Account]:
    """``user1..userN`` as ``mmload serve`` seeds them (v1 logs in with the email)."""
    return [Account(f"user{k}@example.com", password, disposable=True) for k in range(1, count + 1)]


def load(path: str | Path) -> list[Account]:
    """``login_id,password[,team[,disposable]]`` per line, as CSV (quote a field that holds a
    comma, a quote or a line break); a header line is optional; # starts a comment; spaces
    around each field are trimmed.  Anything else is an :class:`AccountsError` naming the line."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:  # quoted CRs stay CRs
            text = f.read()
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, or a NUL in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _reason(exc)
        raise AccountsError(f"cannot read accounts file {path}: {why}") from None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    accounts: list[Account] = []
    try:
        for row in reader:
            account = _account(row, reader.line_num, not accounts, path)
            if account is not None:
                accounts.append(account)
    except csv.Error as exc:
        raise AccountsError(f"{path}, line {reader.line_num}: not valid CSV: {exc}") from None
    if not accounts:
        raise AccountsError(f"{path}: no accounts in the file")
    return accounts


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"it is not UTF-8 text (byte {exc.object[exc.start]:#04x} at {exc.start})"
    return str(exc)


def _account(row: list[str], number: int, first: bool, path: str | Path) -> Account | None:
    """The account on one line; None for a blank line, a comment or the header."""
    if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
        return None
    cells = [c.strip() for c in row]
    if first and number == 1 and [c.lower() for c in cells[:2]] == ["login_id", "password"]:
        return None
    if len(cells) not in (2, 3, 4):
        raise AccountsError(
            f"{path}, line {number}: expected login_id,password[,team[,disposable]], found "
            f"{len(cells)} fields"
        )
    if not cells[0] or not cells[1]:
        raise AccountsError(f"{path}, line {number}: the login_id or password is empty")
    if len(cells) == 4 and cells[3].lower() not in ("", DISPOSABLE):
        raise AccountsError(
            f"{path}, line {number}: the 4th field is {DISPOSABLE!r} (the bypass audit may lock "
            "the account out) or empty"
        )
    team = cells[2] if len(cells) >= 3 else DEFAULT_TEAM
    return Account(cells[0], cells[1], team, len(cells) == 4 and cells[3].lower() == DISPOSABLE)


def is_seeded(spec: str) -> bool:
    """Whether ``--accounts`` names the seeded user1..userN (a number), not a CSV file."""
    return spec.isascii() and spec.isdigit()


def resolve(spec: str, password: str = SEEDED_PASSWORD) -> list[Account]:
    """``--accounts``: a number N means the seeded user1..userN, anything else is a CSV file."""
    if is_seeded(spec):
        if not 1 <= int(spec) <= MAX_SEEDED:
            raise AccountsError(f"--accounts N takes 1 to {MAX_SEEDED} seeded accounts, not {spec}")
        return seeded(int(spec), password)
    return load(spec)
