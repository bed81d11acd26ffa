"""From Locust's request event to a block of records, as cheaply as the load process allows.

The request listener runs inline for every request of every user, so it does the least it can
while the response is still in the CPU's cache: it looks up the rate-limit headers, finds their
parsed form by their raw values (parsed once per distinct set of values: a server sends few,
Remaining 0..100 and a handful of Resets), and appends numbers to typed arrays, so nothing it
keeps needs the garbage collector or a second look at a string.  Once a second,
:meth:`Capture.take` turns the arrays into a :class:`~mmload.results.block.Block` without a
loop over records in Python.
"""

from __future__ import annotations

import time
from array import array
from typing import Any

import numpy as np
from geventhttpclient.header import Headers as FastHeaders  # FastHttpUser's response headers

from mmload import dialects
from mmload.results.block import Block
from mmload.results.record import LIMITABLE
from mmload.results.samples import SAMPLED, Samples, shape


def limited_suffix(status: int) -> str:
    """What users add to a refused request's name so that Locust's own stats show refusals
    apart, by status: ``GET /api/v4/users/me [503 limited]``."""
    return f" [{status} limited]"


# The context entry with who sent a request: "key|user|source", one str made once per user, so
# the listener appends a reference and the three columns are split per distinct value.
IDENTITY = "mmload_identity"
# the suffix of each status a run may count as refused: the capture takes it off again, whatever
# the run's refusals are (the users added it only to those)
_SUFFIXES = {status: limited_suffix(status) for status in LIMITABLE}
_NAMES = dialects.CAPTURED
_SNAPSHOT_NUMBERS = ("limit", "remaining", "reset", "retry_after", "retry_at", "window", "date")
_SNAPSHOT_TEXT = ("policy", "dialect", "bucket", "policies")  # columns a snapshot decides
_FORGET_AT = 50_000  # distinct values remembered before starting afresh (epoch Resets grow)
_dict_get: Any = dict.get  # unbound: skips Headers' own get(), which lower-cases and raises
_WARM_UP = (
    ("X-Ratelimit-Limit", "1"),
    ("X-Ratelimit-Remaining", "0"),
    ("X-Ratelimit-Reset", "1"),
    ("Date", "Thu, 01 Jan 1970 00:00:00 GMT"),
)


def join_identity(key: str, user: str, source: str) -> str:
    return f"{key}|{user}|{source}"


def _split_identity(identity: str) -> tuple[str, str, str]:
    key, user, source = [*identity.split("|"), "", ""][:3]
    return key, user, source


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
        return tuple(map(_dict_get.__get__(headers), _NAMES))
    if headers is None:
        return (None,) * len(_NAMES)
    return tuple(headers.get(name) for name in _NAMES)  # requests' case-insensitive dict


class _Codes:
    """Values to small integer codes, remembered across blocks."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.values: list[Any] = []

    def clear(self) -> None:
        self.index.clear()
        self.values.clear()

    def code(self, value: Any) -> int:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code

    def column(self, values: list[Any]) -> tuple[np.ndarray, list[Any]]:
        """Codes of ``values`` compacted to this block's own table."""
        codes = np.fromiter(map(self.code, values), np.int64, len(values))
        used, inverse = np.unique(codes, return_inverse=True)
        return inverse.astype(np.uint32), [self.values[u] for u in used.tolist()]


class _Response:
    def __init__(self, status_code: int, headers: Any) -> None:
        self.status_code, self.headers = status_code, headers


class Capture:
    """``on_request`` is the listener for Locust's request event; ``take`` the block since the
    last call."""

    def __init__(self) -> None:
        self._snapshot_ids: dict[Any, int] = {}  # raw header entries -> a number in _snapshots
        self._snapshots: list[dialects.Snapshot] = []
        self._endpoints, self._keys = _Codes(), _Codes()
        # the columns are emptied in place by take(), so the listener binds them once
        self.sent, self.latency = array("d"), array("d")
        self.status, self.snapshot = array("i"), array("i")
        self.names: list[str] = []
        self.keys: list[str] = []  # identities (see IDENTITY)
        self.errors: dict[int, str] = {}  # row -> what went wrong; rare
        self.server: list[str] = []  # its X-Version-Id once seen ("" if it sends none)
        self.samples: Samples = {}  # shapes of the first error bodies of each status
        self._looked_at: dict[int, int] = {}
        self._looked = 0
        self.on_request = self._listener()

    def _listener(self) -> Any:
        """The hot path: runs inline for every request of every user.  A closure, so that
        everything it touches is a local name rather than an attribute to look up."""
        sent_, latency_, status_ = self.sent.append, self.latency.append, self.status.append
        snapshot_, names_, keys_ = self.snapshot.append, self.names.append, self.keys.append
        errors, sent, ids, new_snapshot = (
            self.errors,
            self.sent,
            self._snapshot_ids,
            self._new_snapshot,
        )
        fast, get, names, now = FastHeaders, _dict_get, _NAMES, time.time
        server, note_server = self.server, self._note_server
        looked, note_body = self._looked_at, self._note_body
        suffixes = _SUFFIXES

        def on_request(
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
            try:
                status = response.status_code or 0
                headers = response.headers
            except AttributeError:  # no response object at all
                status, headers = 0, None
            if type(headers) is fast:  # the common case inlined: a map of C-level lookups
                raw = tuple(map(get.__get__(headers), names))
            else:
                raw = raw_headers(headers)
            try:  # hashed now, while the response's strings are in the CPU's cache
                snapshot = ids[raw]
            except (KeyError, TypeError):  # new values, or a repeated header's (unhashable) list
                snapshot = new_snapshot(raw)
            if status >= 400:
                suffix = suffixes.get(status)
                if suffix is not None and name.endswith(suffix):
                    name = name[: -len(suffix)]
            if exception is not None:
                if 0 < status < 400:  # answered, but cut short or unusable: not an acceptance
                    exception, status = f"HTTP {status}, then: {exception}", 0
                errors[len(sent)] = str(exception)[:200]
            if not server:  # until the server has said what it is, or surely never will
                note_server(headers)
            if status >= 400 and looked.get(status, 0) < SAMPLED:  # the first few bodies
                note_body(status, response)
            sent_(start_time if start_time is not None else now() - response_time / 1000)
            latency_(response_time)
            status_(status)
            snapshot_(snapshot)
            names_(name)
            keys_(context.get(IDENTITY, "") if context else "")

        return on_request

    def _note_server(self, headers: Any) -> None:
        """The server's X-Version-Id (Mattermost sends one on every response), looked for in
        the first responses only."""
        self._looked += 1
        if headers is None:
            return
        entry = (
            _dict_get(headers, "x-version-id")
            if type(headers) is FastHeaders
            else headers.get("x-version-id")
        )
        value = _value(entry)
        if isinstance(value, list):
            value = value[-1] if value else None
        if value:
            self.server.append(str(value)[:100])
        elif self._looked >= 1000:
            self.server.append("")  # it does not say: stop looking

    def _note_body(self, status: int, response: Any) -> None:
        """The shape of an error response's body (never the body itself)."""
        self._looked_at[status] = self._looked_at.get(status, 0) + 1
        try:
            body = response.content
        except Exception:  # a response that cannot give its body: nothing to say
            return
        shapes = self.samples.setdefault(str(status), {})
        found = shape(body if isinstance(body, bytes) else None)
        shapes[found] = shapes.get(found, 0) + 1

    def take_samples(self) -> Samples:
        samples, self.samples = self.samples, {}
        return samples

    @property
    def version_id(self) -> str:
        return self.server[0] if self.server else ""

    def _new_snapshot(self, raw: tuple[Any, ...]) -> int:
        raw = _hashable(raw)
        number = self._snapshot_ids.get(raw)
        if number is None:
            number = self._snapshot_ids[raw] = len(self._snapshots)
            self._snapshots.append(dialects.parse(tuple(map(_value, raw))))
        return number

    def warm_up(self) -> Block:
        """Run made-up responses through everything once, before the load starts: first calls
        (numpy's, the parser's) cost milliseconds that would otherwise fall in the first second
        of the load.  Returns the block; nothing of it is remembered."""
        headers = FastHeaders()
        for name, value in _WARM_UP:
            headers.add(name, value)
        self.on_request("GET", "warm-up", 1.0, 0, _Response(429, headers), {}, None, 0.0)
        self.on_request("GET", "warm-up", 1.0, 0, None, {}, OSError("warm-up"), 0.0)
        block = self.take()
        self.server.clear()
        self.samples.clear()
        self._looked_at.clear()
        self._looked = 0
        self._snapshot_ids.clear()
        self._snapshots.clear()
        self._endpoints.clear()
        self._keys.clear()
        return block

    # once a second
    def take(self) -> Block:
        """Everything since the last call, as one block."""
        if not self.sent:
            return Block.empty()
        sent, latency = self.sent.tobytes(), self.latency.tobytes()
        status, snapshot = self.status.tobytes(), self.snapshot.tobytes()
        names, keys, errors = self.names[:], self.keys[:], dict(self.errors)
        for column in (self.sent, self.latency, self.status, self.snapshot, self.names, self.keys):
            del column[:]
        self.errors.clear()
        used, inverse = np.unique(np.frombuffer(snapshot, np.int32), return_inverse=True)
        table = [self._snapshots[u] for u in used.tolist()]
        numbers: dict[str, np.ndarray] = {
            "sent": np.frombuffer(sent, np.float64),
            "latency_ms": np.frombuffer(latency, np.float64),
            "status": np.frombuffer(status, np.int32),
        }
        values = np.array([[getattr(s, f) for f in _SNAPSHOT_NUMBERS] for s in table], np.float64)
        for i, field in enumerate(_SNAPSHOT_NUMBERS):
            numbers[field] = values[inverse, i]
        _resolve_retry_at(numbers)
        codes = {f: inverse.astype(np.uint32) for f in _SNAPSHOT_TEXT}
        tables = {f: [getattr(s, f) for s in table] for f in _SNAPSHOT_TEXT}
        codes["endpoint"], tables["endpoint"] = self._endpoints.column(names)
        identities, table_of_identities = self._keys.column(keys)
        split = [_split_identity(i) for i in table_of_identities]
        for k, field in enumerate(("key", "user", "source")):
            codes[field], tables[field] = identities, [parts[k] for parts in split]
        codes["error"], tables["error"] = _errors(errors, inverse, [s.problem for s in table])
        for codec in (self._endpoints, self._keys):
            if len(codec.values) > _FORGET_AT:
                codec.clear()
        if len(self._snapshots) > _FORGET_AT:  # no row refers to them any more: start afresh
            self._snapshot_ids.clear()  # in place: the listener holds it
            self._snapshots.clear()
        return Block(numbers, codes, tables)


def _resolve_retry_at(numbers: dict[str, np.ndarray]) -> None:
    """A Retry-After given as an HTTP-date without a Date header: seconds from the answer."""
    at = numbers.pop("retry_at")
    todo = ~np.isnan(at) & np.isnan(numbers["retry_after"])
    if todo.any():
        answered = numbers["sent"] + numbers["latency_ms"] / 1000.0
        numbers["retry_after"] = np.where(
            todo, np.maximum(at - answered, 0.0), numbers["retry_after"]
        )


def _errors(
    errors: dict[int, str], snapshots: np.ndarray, problems: list[str]
) -> tuple[np.ndarray, list[str]]:
    """What went wrong per request: what was malformed in its headers, and its exception."""
    if not errors:
        return snapshots.astype(np.uint32), problems
    per_row = [problems[s] for s in snapshots.tolist()]
    for row, error in errors.items():
        per_row[row] = f"{per_row[row]}; {error}" if per_row[row] else error
    return _Codes().column(per_row)
