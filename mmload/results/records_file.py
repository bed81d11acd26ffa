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

import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmload import defaults
from mmload.results import utc
from mmload.results.block import Block, FrameError, read_frames
from mmload.results.folder import RECORDS_BIN, read_run_or_empty
from mmload.results.record import Record

DELIVERY_SLACK = 10.0  # seconds a worker's frame may take to reach the master's file
LOOK_EVERY = 64 * 2**20  # bytes written between two looks at the disk's free space


class RecordsWriter:
    """Appends frames: every record by default, at most ``max_records`` when given (totals are
    kept elsewhere).  Before the disk would fill it stops recording, never the run: once less
    than ``reserve`` bytes would be left free, every later frame is dropped and ``stopped``
    says why."""

    def __init__(
        self,
        path: Path,
        max_records: int = 0,
        reserve: int = defaults.DISK_RESERVE,
        free: Callable[[Path], int] = lambda p: shutil.disk_usage(p).free,
    ) -> None:
        self.max_records = max_records  # 0: no cap
        self.written = 0
        self.dropped = 0
        self.bytes = 0  # the file's size
        self.stopped = ""  # why recording stopped before the run did ("" it did not)
        self.reserve = reserve
        self._free = free
        self._room = 0  # bytes that may be written before the disk is looked at again
        self._file = open(path, "wb")  # noqa: SIM115  closed by close()
        self._path = path

    def add_frame(self, frame: bytes, rows: int) -> None:
        if self.stopped or not self._disk_has_room(len(frame)):
            self.dropped += rows
            return
        room = self.max_records - self.written if self.max_records else rows
        if rows > room:
            self.dropped += rows - max(room, 0)
            if room <= 0:
                return
            block, meta = Block.decode(frame)
            frame, rows = block.take(slice(0, room)).encode(meta), room
        self._file.write(frame)
        self.written += rows
        self.bytes += len(frame)

    def _disk_has_room(self, size: int) -> bool:
        """Whether ``size`` bytes more leave ``reserve`` free; the disk is looked at once per
        :data:`LOOK_EVERY` bytes written, not for each frame."""
        if size <= self._room:
            self._room -= size
            return True
        try:
            free = self._free(self._path.parent)
        except OSError:
            return True  # cannot tell: keep writing (a full disk then fails the write)
        self._room = min(free - self.reserve, LOOK_EVERY) - size
        if self._room >= 0:
            return True
        self.stopped = (
            f"recording stopped at {utc.clock(time.time())} UTC: less than "
            f"{self.reserve / 1e9:.1f} GB would have been left free on the disk of {self._path}"
        )
        return False

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
    for block in blocks:  # nothing this generator yields stays referenced while it waits
        if not len(block):
            continue
        sent = block.numbers["sent"]
        safe = float((sent + block.numbers["latency_ms"] / 1000.0).max()) - horizon
        pending.append(block.take(np.argsort(sent, kind="stable")))
        del block, sent
        ready, pending = _cut(pending, safe)
        if ready:
            yield _sorted(Block.gather(ready))
    if pending:
        yield _sorted(Block.gather(pending))


def _cut(pending: list[Block], safe: float) -> tuple[list[Block], list[Block]]:
    """(what was sent before ``safe``, the rest) of sorted blocks; a block that starts after
    ``safe`` waits whole."""
    ready, later = [], []
    for b in pending:
        times = b.numbers["sent"]
        cut = 0 if times[0] >= safe else int(np.searchsorted(times, safe))
        if cut == len(b):
            ready.append(b)
        elif cut == 0:
            later.append(b)
        else:
            ready.append(b.take(slice(0, cut)))
            later.append(b.take(slice(cut, None)))
    return ready, later


def _sorted(block: Block) -> Block:
    sent = block.numbers["sent"]
    if bool(np.all(sent[1:] >= sent[:-1])):  # in order already (a copy less)
        return block
    return block.take(np.argsort(sent, kind="stable"))


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


def stretches(folder: Path, head: int, size: int) -> Iterator[Block]:
    """The records of a run folder in send order, as consecutive blocks: the first ``head``
    records (all of them if there are fewer), then ``size`` at a time, the last what is left.
    Memory holds one stretch (and the records still being put in order)."""
    want, parts, rows = head, [], 0
    for block in in_send_order(read_blocks(folder), horizon_for(read_run_or_empty(folder))):
        rest: Block | None = block
        del block
        while rest is not None and len(rest):
            room = want - rows
            part, rest = (
                (rest, None)
                if len(rest) <= room
                else (rest.take(slice(0, room)), rest.take(np.arange(room, len(rest))))
            )  # the rest a copy: a view would hold the stretch before it as long as itself
            parts.append(part)
            rows += len(part)
            del part  # held by parts alone, which gather empties
            if rows >= want:
                yield Block.gather(parts)
                want, parts, rows = size, [], 0
    if parts:
        yield Block.gather(parts)


def load_records(folder: Path) -> Block:
    """All records of a run folder as one block, in send order: for numpy consumers."""
    return _sorted(Block.concat(list(read_blocks(folder))))
