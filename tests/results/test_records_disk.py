"""``records.bin`` keeps every record by default, and stops recording (never the run) before the
disk would fill."""

from __future__ import annotations

from pathlib import Path

from mmload.results.block import Block
from mmload.results.folder import RECORDS_BIN
from mmload.results.records_file import RecordsWriter, read_blocks
from tests.support.records import record


def _block(n: int, t0: float = 1_800_000_000.0) -> Block:
    rows = [record(t0 + i * 0.01, 200, "GET /x", key="k") for i in range(n)]
    return Block.from_records(rows)


def test_every_record_is_kept_by_default_and_the_file_size_is_counted(tmp_path: Path) -> None:
    writer = RecordsWriter(tmp_path / RECORDS_BIN)
    for _ in range(30):
        writer.add_block(_block(1000))
    writer.close()
    assert (writer.written, writer.dropped, writer.stopped) == (30_000, 0, "")
    assert writer.bytes == (tmp_path / RECORDS_BIN).stat().st_size
    assert sum(len(b) for b in read_blocks(tmp_path)) == 30_000


def test_a_cap_keeps_the_first_records(tmp_path: Path) -> None:
    writer = RecordsWriter(tmp_path / RECORDS_BIN, max_records=2500)
    for _ in range(3):
        writer.add_block(_block(1000))
    writer.close()
    assert (writer.written, writer.dropped) == (2500, 500)


def test_recording_stops_before_the_disk_fills_and_says_why(tmp_path: Path) -> None:
    """The disk has 1 MB more than the reserve: the frames that fit are written, whole, then
    every later one is dropped (counted) and the writer says when and why."""
    reserve = 10**9
    written: list[int] = []

    def free(_: Path) -> int:
        return reserve + 2**20 - (written[-1] if written else 0)

    writer = RecordsWriter(tmp_path / RECORDS_BIN, reserve=reserve, free=free)
    frames = 0
    for _ in range(200):
        writer.add_block(_block(2000))
        written.append(writer.bytes)
        frames += 1
    writer.close()
    assert writer.stopped.startswith("recording stopped at ")
    assert "less than 1.0 GB would have been left free" in writer.stopped
    assert 0 < writer.bytes <= 2**20
    assert writer.written + writer.dropped == 2000 * frames
    assert writer.dropped > 0 and writer.written % 2000 == 0  # whole frames, none cut
    assert sum(len(b) for b in read_blocks(tmp_path)) == writer.written


def test_a_disk_that_cannot_be_asked_does_not_stop_recording(tmp_path: Path) -> None:
    def free(_: Path) -> int:
        raise OSError("statvfs failed")

    writer = RecordsWriter(tmp_path / RECORDS_BIN, free=free)
    writer.add_block(_block(100))
    writer.close()
    assert (writer.written, writer.stopped) == (100, "")
