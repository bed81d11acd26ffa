"""26-character ids and tokens, made as Mattermost's ``model.NewId`` makes them."""

from __future__ import annotations

import base64
import os

_ALPHABET = b"ybndrfg8ejkmcpqxot1uwisza345h769"
_FROM_STD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)


def new_id() -> str:
    """16 random bytes in Mattermost's base32 alphabet, unpadded: 26 characters."""
    return base64.b32encode(os.urandom(16)).translate(_FROM_STD)[:26].decode()


def is_id(text: str) -> bool:
    return len(text) == 26 and all(c in "ybndrfg8ejkmcpqxot1uwisza345h769" for c in text)
