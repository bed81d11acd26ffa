"""From Locust's request event to a block of records, as cheaply as the load process allows.

The request listener runs inline for every request of every user, so it only copies what it
needs (times, name, status, key, the raw entries of the rate-limit headers) into a tuple.
Once a second, :meth:`Capture.take` turns the pending tuples into a
:class:`~mmload.results.block.Block`: header values are parsed once per distinct combination
(a server sends few: Remaining 0..100, a handful of Resets) and looked up after that, and
text is encoded as column codes with dictionary lookups that run at C speed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from geventhttpclient.header import Headers as FastHeaders  # FastHttpUser's response headers

from mmload import dialects
from mmload.results.block import NUMBERS, TEXT, Block

LIMITED_SUFFIX = " [429 limited]"  # users rename 429s so Locust's own stats show them apart
_CUT = -len(LIMITED_SUFFIX)
_NAMES = dialects.CAPTURED
_SNAPSHOT_NUMBERS = ("limit", "remaining", "reset", "retry_after", "retry_at", "window", "date")
_FORGET_AT = 50_000  # distinct values remembered before starting afresh (epoch Resets grow)
_dict_get: Any = dict.get  # unbound: skips Headers' own get(), which lower-cases and raises

Pending = tuple[float, float, str, int, str, tuple[Any, ...], str]


def _value(entry: Any) -> Any:
    """A header entry as its value(s): geventhttpclient's ``(Name, value)``, or a list (or
    tuple) of those when the header was repeated; requests gives the str itself."""
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry[0], str):
        return str(entry[1])
    return [_value(e) for e in entry]


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def raw_headers(headers: Any) -> tuple[Any, ...]:
    """The entries of every header a dialect reads, in ``dialects.CAPTURED`` order."""
    if type(headers) is FastHeaders:
        get = _dict_get.__get__(headers)
        return tuple(map(get, _NAMES))
    if headers is None:
        return (None,) * len(_NAMES)
    return tuple(headers.get(name) for name in _NAMES)  # requests' case-insensitive dict


class _Codes:
    """Text to small integer codes, remembered across blocks; a block gets its own compact
    table of the codes it uses."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.values: list[Any] = []

    def encode(self, values: Sequence[Any], new: Any) -> np.ndarray:
        """Codes of ``values``; ``new(value)`` makes what is remembered for an unseen one."""
        if len(self.index) > _FORGET_AT:
            self.index, self.values = {}, []
        try:
            codes = list(map(self.index.get, values))
        except TypeError:  # an unhashable value (a repeated header's list): normalize, retry
            values = [_hashable(v) for v in values]
            codes = list(map(self.index.get, values))
        if None in codes:
            for i, code in enumerate(codes):
                if code is None:
                    value = values[i]
                    code = self.index.get(value)
                    if code is None:
                        code = self.index[value] = len(self.values)
                        self.values.append(new(value))
                    codes[i] = code
        return np.array(codes, dtype=np.int64)


def _compact(codes: np.ndarray, table: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    used, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.uint32), [table[u] for u in used.tolist()]


class Capture:
    def __init__(self) -> None:
        self.pending: list[Pending] = []
        self._snapshots = _Codes()  # raw header entries -> dialects.Snapshot
        self._text = {name: _Codes() for name in ("endpoint", "key", "error")}

    # the hot path: runs inline for every request of every user
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        raw = raw_headers(getattr(response, "headers", None))
        if status == 429 and name.endswith(LIMITED_SUFFIX):
            name = name[:_CUT]
        error = "" if exception is None else str(exception)[:200]
        key = context.get("mmload_key", "") if context else ""
        sent = start_time if start_time is not None else time.time() - response_time / 1000
        self.pending.append((sent, response_time, name, status, key, raw, error))

    # once a second
    def take(self) -> Block:
        """Everything since the last call, as one block."""
        rows, self.pending = self.pending, []
        if not rows:
            return Block.empty()
        sent, latency, names, statuses, keys, raws, errors = zip(*rows, strict=True)
        snaps = self._snapshots.encode(raws, lambda raw: dialects.parse(tuple(map(_value, raw))))
        used, inverse = np.unique(snaps, return_inverse=True)
        table = [self._snapshots.values[u] for u in used.tolist()]
        numbers: dict[str, np.ndarray] = {
            "sent": np.array(sent, dtype=np.float64),
            "latency_ms": np.array(latency, dtype=np.float64),
            "status": np.array(statuses, dtype=np.int32),
        }
        values = np.array(
            [[getattr(s, f) for f in _SNAPSHOT_NUMBERS] for s in table], dtype=np.float64
        )[inverse]
        for i, field in enumerate(_SNAPSHOT_NUMBERS):
            numbers[field] = values[:, i]
        self._resolve_retry_at(numbers)
        codes, tables = {}, {}
        codes["policy"], codes["dialect"] = inverse.astype(np.uint32), inverse.astype(np.uint32)
        tables["policy"] = [s.policy for s in table]
        tables["dialect"] = [s.dialect for s in table]
        for field, column in (("endpoint", names), ("key", keys)):
            codec = self._text[field]
            codes[field], tables[field] = _compact(codec.encode(column, str), codec.values)
        codes["error"], tables["error"] = self._errors(errors, inverse, table)
        del numbers["retry_at"]
        assert set(numbers) == set(NUMBERS) and set(codes) == set(TEXT)
        return Block(numbers, codes, tables)

    @staticmethod
    def _resolve_retry_at(numbers: dict[str, np.ndarray]) -> None:
        """A Retry-After given as an HTTP-date without a Date header: seconds from the answer."""
        at = numbers["retry_at"]
        todo = ~np.isnan(at) & np.isnan(numbers["retry_after"])
        if todo.any():
            answered = numbers["sent"] + numbers["latency_ms"] / 1000.0
            numbers["retry_after"] = np.where(
                todo, np.maximum(at - answered, 0.0), numbers["retry_after"]
            )

    def _errors(
        self, errors: Sequence[str], snaps: np.ndarray, table: list[Any]
    ) -> tuple[np.ndarray, list[str]]:
        """What went wrong per request: the exception, and what was malformed in the headers."""
        problems = [s.problem for s in table]
        if not any(errors):
            return snaps.astype(np.uint32), problems
        per_row = [
            f"{problems[s]}; {e}" if problems[s] and e else problems[s] or e
            for s, e in zip(snaps.tolist(), errors, strict=True)
        ]
        codes = self._text["error"].encode(per_row, str)
        return _compact(codes, self._text["error"].values)
