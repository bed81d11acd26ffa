"""Argument types the commands share: each refuses a bad value with a reason (exit 2)."""

from __future__ import annotations

import argparse

from mmload.harness.options import non_negative

__all__ = ["non_negative", "password", "port", "positive"]


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
