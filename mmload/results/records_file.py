"""``records.bin``: every request's record, as a sequence of :class:`Block` frames.

The writer appends the frames load processes encoded (the master never touches single records)
and flushes every second, so after ``kill -9`` the file holds every whole frame written; a frame
cut short is skipped by the readers.

Frames hold records in the order their answers arrived.  The readers give them back in the order
they were *sent*, which is what anything replaying a rate limiter needs: a record can arrive at
most one request timeout (plus a few seconds of delivery from workers) after it was sent, so
:func:`in_send_order` holds back only that much and streams the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmload import defaults
from mmload.results.block import Block, FrameError, read_frames
from mmload.results.folder import RECORDS_BIN, read_run_or_empty
from mmload.results.record import Record

DELIVERY_SLACK = 10.0  # seconds a worker's frame may take to reach the master's file


class RecordsWriter:
    """Appends frames, keeping at most ``max_records`` records (totals are kept elsewhere)."""

    def __init__(self, path: Path, max_records: int) -> None:
        self.max_records = max_records
        self.written = 0
        self.dropped = 0
        self._file = open(path, "wb")  # noqa: SIM115  closed by close()

    def add_frame(self, frame: bytes, rows: int) -> None:
        room = self.max_records - self.written
        if rows > room:
            self.dropped += rows - max(room, 0)
            if room <= 0:
                return
            block, meta = Block.decode(frame)
            frame, rows = block.take(slice(0, room)).encode(meta), room
        self._file.write(frame)
        self.written += rows

    def add_block(self, block: Block, meta: dict[str, Any] | None = None) -> None:
        if len(block):
            self.add_frame(block.encode(meta), len(block))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_blocks(folder: Path) -> Iterator[Block]:
    """The blocks of a run folder in the order they were written (answer order), up to the
    first damaged frame, if any (what comes after it cannot be found reliably)."""
    path = folder / RECORDS_BIN
    if not path.exists():
        return
    with open(path, "rb") as f:
        for frame in read_frames(f):
            try:
                yield Block.decode(frame)[0]
            except FrameError:
                return


def in_send_order(blocks: Iterable[Block], horizon: float) -> Iterator[Block]:
    """Blocks re-cut so that their rows come in send order, holding back ``horizon`` seconds.

    Each block is sorted on arrival; once a block answered at time T has been read, every later
    record was sent after T - horizon, so what was sent before that is final and goes out."""
    pending: list[Block] = []
    for block in blocks:
        if not len(block):
            continue
        sent = block.numbers["sent"]
        pending.append(block.take(np.argsort(sent, kind="stable")))
        safe = float((sent + block.numbers["latency_ms"] / 1000.0).max()) - horizon
        cuts = [int(np.searchsorted(b.numbers["sent"], safe)) for b in pending]
        ready = [b.take(slice(0, c)) for b, c in zip(pending, cuts) if c]
        pending = [b.take(slice(c, None)) for b, c in zip(pending, cuts) if c < len(b)]
        if ready:
            yield _sorted(Block.concat(ready))
    if pending:
        yield _sorted(Block.concat(pending))


def _sorted(block: Block) -> Block:
    return block.take(np.argsort(block.numbers["sent"], kind="stable"))


def horizon_for(run: dict[str, Any]) -> float:
    """How far behind its send time a record may be written: the request timeout of the run
    (``run.json``) plus the delivery slack."""
    settings = run.get("settings") if isinstance(run, dict) else None
    timeout = settings.get("request_timeout") if isinstance(settings, dict) else None
    try:
        seconds = float(timeout) if timeout else defaults.REQUEST_TIMEOUT
    except (TypeError, ValueError):
        seconds = defaults.REQUEST_TIMEOUT
    return max(0.0, seconds) + DELIVERY_SLACK


def read_records(folder: Path, horizon: float | None = None) -> Iterator[Record]:
    """Every record of a run folder, in send order (so also in send order per key), streamed;
    also from a killed run's folder."""
    if horizon is None:
        horizon = horizon_for(read_run_or_empty(folder))
    for block in in_send_order(read_blocks(folder), horizon):
        yield from block.records()


def load_records(folder: Path) -> Block:
    """All records of a run folder as one block, in send order: for numpy consumers."""
    return _sorted(Block.concat(list(read_blocks(folder))))
