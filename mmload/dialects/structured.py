"""RFC 8941 structured fields as the IETF dialects use them: parsed by http_sfv, then checked.

http_sfv checks the syntax.  The dialects also need each count to be a non-negative Integer: a
Decimal, String or Boolean where a count belongs makes the whole field malformed, and a
malformed field is ignored (draft-ietf-httpapi-ratelimit-headers), never raised.
"""

from __future__ import annotations

from functools import lru_cache

import http_sfv

from mmload.dialects import numbers
from mmload.dialects.fields import Fields

Quota = tuple[int, int | None]  # (quota, window seconds from a ``w`` parameter)


class Malformed(ValueError):
    """A structured field that parsed but breaks the dialect's rules; the message says how."""


def parse_list(text: str) -> http_sfv.List:
    value = http_sfv.List()
    _parse(value, text)
    return value


def parse_dictionary(text: str) -> http_sfv.Dictionary:
    value = http_sfv.Dictionary()
    _parse(value, text)
    return value


def _parse(value: http_sfv.List | http_sfv.Dictionary, text: str) -> None:
    """Raises Malformed.  Field values are ASCII; HTTP strips OWS (space and tab) around them."""
    if not text.isascii():
        raise Malformed("not ASCII")
    try:
        value.parse(text.strip(" \t").encode("ascii"))
    except ValueError as why:  # http_sfv's only failure (fuzzed in tests/test_dialects_fuzz.py)
        raise Malformed(f"not a structured {type(value).__name__.lower()}") from why


def count(value: object, what: str) -> int:
    """A non-negative SF Integer.  ``type() is int``: a bool is a Python int, but ?1 no count."""
    if type(value) is not int or value < 0:
        raise Malformed(f"{what} is not a non-negative integer")
    return value


def quotas(text: str) -> list[Quota]:
    """``20;w=1`` or ``100;w=60, 10000;w=86400``: each member a quota, maybe with a window."""
    found = []
    for member in parse_list(text):
        if not isinstance(member, http_sfv.Item):
            raise Malformed("an inner list where a quota belongs")
        window = member.params.get("w")
        found.append((count(member.value, "quota"), None if window is None else count(window, "w")))
    return found


def read_quota(fields: Fields, name: str) -> tuple[int | float | None, int | None]:
    """A limit header: a plain number, or a quota list ``10, 10;w=1`` (IETF drafts up to 6, Envoy).

    The limit is the first member; the window is the first ``w`` any member carries.
    """
    raw = fields.single(name)
    if raw is None:
        return None, None
    plain = numbers.number(raw)
    if plain is not None:
        return plain, None
    try:
        members = quotas(raw)
    except Malformed as why:
        fields.malformed(name, raw, str(why))
        return None, None
    windows = [window for _, window in members if window is not None]
    return members[0][0], windows[0] if windows else None


def policy_window(fields: Fields, limit: float | None) -> int | None:
    """``RateLimit-Policy: 20;w=1`` (drafts 6 and 7): the window of the policy whose quota is the
    advertised limit, else of the first policy."""
    raw = fields.combined("ratelimit-policy")
    if raw is None:
        return None
    try:
        members = quotas(raw)
    except Malformed as why:
        fields.malformed("ratelimit-policy", raw, str(why))
        return None
    matching = [window for quota, window in members if quota == limit]
    return matching[0] if matching else members[0][1]


@lru_cache(maxsize=64)
def quota_policy(quota: int, window_s: int) -> str:
    """``20;w=1``: the same for every response of a server, so rendered once."""
    item = http_sfv.Item(quota)
    item.params["w"] = window_s
    return str(item)
