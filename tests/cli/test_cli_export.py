"""``mmload export``: a run folder's records as CSV, in send order."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mmload.cli import main
from mmload.results.block import Block
from mmload.results.record import FIELDS, Record
from mmload.results.records_file import RECORDS_BIN, RecordsWriter


def record(sent: float, status: int, remaining: float | None, error: str = "") -> Record:
    return Record(
        sent,
        2.5,
        "GET /x",
        status,
        "addr:1",
        "token:1",
        "addr:1",
        101,
        remaining,
        1,
        None,
        None,
        "",
        "mattermost",
        1000.0,
        error,
    )


def test_export_writes_every_record_in_send_order(tmp_path: Path) -> None:
    writer = RecordsWriter(tmp_path / RECORDS_BIN, max_records=100)
    writer.add_block(Block.from_records([record(1001.5, 429, 0), record(1000.25, 200, 7)]))
    writer.add_block(Block.from_records([record(1000.75, 0, None, "timed out")]))
    writer.close()
    out, err = io.StringIO(), io.StringIO()
    assert main(["export", str(tmp_path)], out, err) == 0, err.getvalue()
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(FIELDS)
    error = FIELDS.index("error")
    assert [(r[0], r[3], r[8], r[error]) for r in rows[1:]] == [
        ("1000.25", "200", "7", ""),
        ("1000.75", "0", "", "timed out"),
        ("1001.5", "429", "0", ""),
    ]
    assert rows[1][7] == "101"  # whole numbers without a trailing .0
    target = tmp_path / "out.csv"
    assert main(["export", str(tmp_path), "-o", str(target)], out, err) == 0
    assert target.read_text().count("\n") == 4


def test_export_of_something_else_is_a_usage_error(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["export", str(tmp_path)], out, err) == 2
    assert "is not a run folder" in err.getvalue() and out.getvalue() == ""
