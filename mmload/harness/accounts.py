"""Accounts the Locust users log in with: a CSV file, or the reference server's seeded users."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from mmload import defaults

DEFAULT_TEAM = "mmload"
SEEDED_PASSWORD = defaults.SEEDED_PASSWORD


REQUIRED = (
    "--accounts is required to log in: a CSV file login_id,password[,team], or N for the "
    "reference server's seeded user1..userN (mmload logs in only with accounts you name)"
)


class AccountsError(ValueError):
    """A clear, user-facing problem with the accounts (never includes a password)."""


@dataclass(frozen=True)
class Account:
    login_id: str  # username or email (v4); email (v1)
    password: str
    team: str = DEFAULT_TEAM

    def __repr__(self) -> str:  # keep passwords out of logs and tracebacks
        return f"Account({self.login_id!r}, team={self.team!r})"


def seeded(count: int, password: str = SEEDED_PASSWORD) -> list[Account]:
    """``user1..userN`` as ``mmload serve`` seeds them (v1 logs in with the email)."""
    return [Account(f"user{k}@example.com", password) for k in range(1, count + 1)]


def load(path: str | Path) -> list[Account]:
    """``login_id,password[,team]`` per line; a header line is optional; # starts a comment."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise AccountsError(f"cannot read accounts file {path}: {exc.strerror}") from None
    accounts = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row]
        if number == 1 and [c.lower() for c in cells[:2]] == ["login_id", "password"]:
            continue
        if len(cells) not in (2, 3):
            raise AccountsError(
                f"{path}, line {number}: expected login_id,password[,team], "
                f"found {len(cells)} fields"
            )
        if not cells[0] or not cells[1]:
            raise AccountsError(f"{path}, line {number}: the login_id or password is empty")
        accounts.append(Account(cells[0], cells[1], cells[2] if len(cells) == 3 else DEFAULT_TEAM))
    if not accounts:
        raise AccountsError(f"{path}: no accounts in the file")
    return accounts


def resolve(spec: str, password: str = SEEDED_PASSWORD) -> list[Account]:
    """``--accounts``: a number N means the seeded user1..userN, anything else is a CSV file."""
    if spec.isdigit():
        if int(spec) < 1:
            raise AccountsError("--accounts needs at least one account")
        return seeded(int(spec), password)
    return load(spec)
