"""A block of records as columns: how records travel and how they are stored.

A load process turns a second's worth of requests into one :class:`Block`: numbers as numpy
columns, text (endpoint, key, policy, dialect, error) as small integer codes into a per-block
table.  Aggregating a block is vectorized, a worker sends its block to the master as one byte
string, and the master appends it to the run folder without looking at a single record.  The
verdict reads blocks straight back into numpy.

A frame on the wire or on disk is ``MAGIC, length, crc32, zlib(header length, JSON header,
column bytes)``: self-describing, so a reader knows every column's name and type, and a frame
cut short by ``kill -9`` is recognised and skipped.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import numpy as np

from mmload.results.record import FIELDS, Record

NUMBERS: dict[str, str] = {
    "sent": "<f8", "latency_ms": "<f8", "status": "<i4", "limit": "<f8", "remaining": "<f8",
    "reset": "<f8", "retry_after": "<f8", "window": "<f8", "date": "<f8",
}  # fmt: skip
TEXT = ("endpoint", "key", "user", "source", "policy", "dialect", "error", "bucket", "policies")
OPTIONAL = ("limit", "remaining", "reset", "retry_after", "window", "date")  # NaN is None
MAGIC = b"MMRB"
_FRAME = struct.Struct("<4sII")  # magic, length of the compressed payload, its crc32
_HEADER = struct.Struct("<I")
VERSION = 1


class FrameError(ValueError):
    """A frame that is not one: damaged, or from something else than mmload."""


def _code_dtype(table_size: int) -> str:
    return "<u2" if table_size <= 0xFFFF else "<u4"


class Block:
    """Records as columns: ``numbers[name]`` (NaN where a field is None), ``codes[name]`` into
    ``tables[name]`` for text.  Blocks are immutable by convention: methods return new ones."""

    __slots__ = ("codes", "numbers", "tables")

    def __init__(
        self,
        numbers: dict[str, np.ndarray],
        codes: dict[str, np.ndarray],
        tables: dict[str, list[str]],
    ) -> None:
        self.numbers = numbers
        self.codes = codes
        self.tables = tables

    def __len__(self) -> int:
        return len(self.numbers["sent"])

    @classmethod
    def empty(cls) -> Block:
        return cls.from_records(())

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> Block:
        rows = list(records)
        columns: Sequence[Sequence[Any]] = (
            list(zip(*rows, strict=True)) if rows else [()] * len(FIELDS)
        )
        by_name = dict(zip(FIELDS, columns, strict=True))
        numbers = {
            name: np.array(by_name[name], dtype=np.float64 if dtype == "<f8" else np.int32)
            for name, dtype in NUMBERS.items()
        }
        codes, tables = {}, {}
        for name in TEXT:
            index: dict[str, int] = {}
            codes[name] = np.fromiter(
                (index.setdefault(v, len(index)) for v in by_name[name]), np.uint32, len(rows)
            )
            tables[name] = list(index)
        return cls(numbers, codes, tables)

    def text(self, name: str) -> np.ndarray:
        """A text column as an array of str (objects)."""
        table = np.array(self.tables[name] or [""], dtype=object)
        return table[self.codes[name]]

    def records(self) -> Iterator[Record]:
        """Row by row, as the one record type (None where a number is NaN)."""
        cols: list[list[Any]] = []
        for name in FIELDS:
            if name in TEXT:
                cols.append(self.text(name).tolist())
            elif name in OPTIONAL:
                values = self.numbers[name].astype(object)
                values[np.isnan(self.numbers[name])] = None
                cols.append(values.tolist())
            else:
                cols.append(self.numbers[name].tolist())
        for row in zip(*cols, strict=True):
            yield tuple.__new__(Record, row)

    def take(self, rows: np.ndarray | slice) -> Block:
        """Some rows (a mask, indices or a slice); the text tables are shared."""
        return Block(
            {k: v[rows] for k, v in self.numbers.items()},
            {k: v[rows] for k, v in self.codes.items()},
            self.tables,
        )

    @classmethod
    def concat(cls, blocks: Sequence[Block]) -> Block:
        """One block of all rows, the text tables merged."""
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return cls.empty()
        if len(blocks) == 1:
            return blocks[0]
        numbers = {k: np.concatenate([b.numbers[k] for b in blocks]) for k in NUMBERS}
        codes, tables = {}, {}
        for name in TEXT:
            index: dict[str, int] = {}
            parts = []
            for b in blocks:
                recode = np.array([index.setdefault(v, len(index)) for v in b.tables[name]])
                parts.append(recode[b.codes[name]] if len(recode) else b.codes[name])
            codes[name] = np.concatenate(parts).astype(np.uint32)
            tables[name] = list(index)
        return cls(numbers, codes, tables)

    @classmethod
    def gather(cls, blocks: list[Block]) -> Block:
        """:meth:`concat` that empties ``blocks`` as it copies them, so that memory holds the
        result and one block more, not the result twice."""
        if len(blocks) == 1:
            return blocks.pop()
        total = sum(len(b) for b in blocks)
        numbers = {
            k: np.empty(total, np.float64 if d == "<f8" else np.int32) for k, d in NUMBERS.items()
        }
        codes = {name: np.empty(total, np.uint32) for name in TEXT}
        index: dict[str, dict[str, int]] = {name: {} for name in TEXT}
        at = 0
        blocks.reverse()
        while blocks:
            b = blocks.pop()
            end = at + len(b)
            for k in NUMBERS:
                numbers[k][at:end] = b.numbers[k]
            for name in TEXT:
                seen = index[name]
                recode = np.array(
                    [seen.setdefault(v, len(seen)) for v in b.tables[name]], np.uint32
                )
                codes[name][at:end] = recode[b.codes[name]] if len(recode) else b.codes[name]
            at = end
        tables = {name: list(index[name]) or [""] for name in TEXT}
        return cls(numbers, codes, tables)

    # the frame
    def encode(self, meta: dict[str, Any] | None = None, level: int = 1) -> bytes:
        columns = [(name, NUMBERS[name], self.numbers[name]) for name in NUMBERS]
        for name in TEXT:
            dtype = _code_dtype(len(self.tables[name]))
            columns.append((name, dtype, self.codes[name]))
        header = {
            "version": VERSION,
            "rows": len(self),
            "columns": [[name, dtype] for name, dtype, _ in columns],
            "tables": self.tables,
            "meta": meta or {},
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        body = b"".join(
            np.ascontiguousarray(col, dtype=dtype).tobytes() for _, dtype, col in columns
        )
        payload = zlib.compress(_HEADER.pack(len(head)) + head + body, level)
        return _FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload

    @classmethod
    def decode(cls, frame: bytes) -> tuple[Block, dict[str, Any]]:
        """A block and its meta from one whole frame; FrameError if it is not one."""
        try:
            magic, length, crc = _FRAME.unpack_from(frame)
            payload = frame[_FRAME.size : _FRAME.size + length]
            if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
                raise FrameError("not an mmload records frame, or a damaged one")
            return cls._from_payload(zlib.decompress(payload))
        except (struct.error, zlib.error, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, FrameError):
                raise
            raise FrameError(f"a damaged records frame: {exc}") from None

    @classmethod
    def _from_payload(cls, data: bytes) -> tuple[Block, dict[str, Any]]:
        (head_len,) = _HEADER.unpack_from(data)
        header = json.loads(data[_HEADER.size : _HEADER.size + head_len])
        if header.get("version") != VERSION:
            raise FrameError(f"records frame version {header.get('version')} is not {VERSION}")
        rows, offset = int(header["rows"]), _HEADER.size + head_len
        arrays = {}
        for name, dtype in header["columns"]:
            width = np.dtype(dtype).itemsize * rows
            arrays[name] = np.frombuffer(data, dtype=dtype, count=rows, offset=offset)
            offset += width
        numbers = {
            n: arrays[n] if n in arrays else np.full(rows, np.nan) for n in NUMBERS
        }  # a column added later reads back as absent from older files
        numbers["status"] = numbers["status"].astype(np.int32)
        codes = {n: arrays.get(n, np.zeros(rows, np.uint32)).astype(np.uint32) for n in TEXT}
        tables = {n: list(header["tables"].get(n, [])) or [""] for n in TEXT}
        return cls(numbers, codes, tables), header.get("meta", {})


def read_frames(f: BinaryIO) -> Iterator[bytes]:
    """Whole frames from a file, one at a time; stops at the first incomplete one (the writer
    was killed mid-frame) or at anything that is not a frame."""
    while True:
        head = f.read(_FRAME.size)
        if len(head) < _FRAME.size:
            return
        magic, length, _ = _FRAME.unpack(head)
        if magic != MAGIC:
            return
        payload = f.read(length)
        if len(payload) < length:
            return
        yield head + payload
