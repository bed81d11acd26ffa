"""26-character ids and tokens in Mattermost's ``model.NewId`` alphabet."""

from __future__ import annotations

import hmac
import os

ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"
ID_LENGTH = 26
# every byte maps onto one of 32 letters, 256 / 32 = 8 bytes each: uniform, 5 random bits a letter
_TO_LETTER = bytes(ord(ALPHABET[b % 32]) for b in range(256))
_LETTERS = frozenset(ALPHABET)
_BATCH = 1024  # ids drawn from the OS at once: one getrandom call per 1024 responses


class _Ids:
    pool = ""
    at = 0


def new_id() -> str:
    """26 random letters (130 bits).  This runs for every response, so it is cheap."""
    at = _Ids.at
    if at >= len(_Ids.pool):
        _Ids.pool = os.urandom(ID_LENGTH * _BATCH).translate(_TO_LETTER).decode()
        at = 0
    _Ids.at = at + ID_LENGTH
    return _Ids.pool[at : at + ID_LENGTH]


def derived_id(secret: bytes, label: str) -> str:
    """26 letters of HMAC-SHA256(secret, label): the same on every node that knows the secret,
    as uniform as a random id to anyone who does not."""
    return letters(hmac.digest(secret, label.encode(), "sha256")[:ID_LENGTH])


def letters(data: bytes) -> str:
    """A letter of the alphabet per byte, 5 uniform bits each."""
    return data.translate(_TO_LETTER).decode()


def is_id(text: str) -> bool:
    return len(text) == ID_LENGTH and _LETTERS.issuperset(text)
