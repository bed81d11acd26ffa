"""The run folder: raw data first, so every verdict, plot and report can be redone from disk.

- ``run.json``: configuration, documented limit, host, versions, totals; never secrets.
- ``timeline.csv``: one row per second (``timeline.COLUMNS``), rewritten as seconds complete.
- ``records.csv.gz``: one row per request (``record.FIELDS``), up to ``max_records``.

Both data files are flushed every second: a killed run keeps everything up to its last flush
(the gzip stream is sync-flushed, so it reads back even without its trailer).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mmload.results import record, timeline

RUN_JSON = "run.json"
TIMELINE_CSV = "timeline.csv"
RECORDS_CSV_GZ = "records.csv.gz"


def new_run_dir(out: str | os.PathLike[str], scenario: str, now: datetime | None = None) -> Path:
    """``OUT/<UTC timestamp>-<scenario>``, made unique if two runs start in the same second."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    base = Path(out) / f"{stamp}-{scenario}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def _cell(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return "" if value is None else value


class RunWriter:
    """Appends records and timeline rows; only the master (or the single process) has one."""

    def __init__(self, path: Path, max_records: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_records = max_records
        self.records_written = 0
        self.records_dropped = 0
        self._gz = gzip.open(path / RECORDS_CSV_GZ, "wt", compresslevel=1, newline="")  # noqa: SIM115
        self._records = csv.writer(self._gz)
        self._records.writerow(record.FIELDS)
        self._timeline = open(path / TIMELINE_CSV, "w+", newline="")  # noqa: SIM115
        csv.writer(self._timeline).writerow(timeline.COLUMNS)
        self._closed_end = self._timeline.tell()

    def add_records(self, rows: Iterable[record.Record]) -> None:
        rows = list(rows)
        room = self.max_records - self.records_written
        if len(rows) > room:
            self.records_dropped += len(rows) - max(room, 0)
            rows = rows[: max(room, 0)]
        self._records.writerows(rows)  # as they are: rounding here costs more than the bytes
        self.records_written += len(rows)

    def write_timeline(
        self, closed: list[timeline.Second], still_open: list[timeline.Second]
    ) -> None:
        """Append closed seconds for good; open ones are provisional, rewritten next time."""
        f = self._timeline
        f.seek(self._closed_end)
        out = csv.writer(f)
        out.writerows([_cell(v) for v in s.row()] for s in closed)
        self._closed_end = f.tell()
        out.writerows([_cell(v) for v in s.row()] for s in still_open)
        f.truncate()

    def flush(self) -> None:
        self._gz.flush()  # gzip sync-flush: readable up to here without the trailer
        self._timeline.flush()

    def close(self) -> None:
        self._gz.close()
        self._timeline.close()


def read_records(path: Path) -> Iterator[record.Record]:
    """Records of a run folder, including a killed run's (the gzip trailer may be missing)."""
    raw = (path / RECORDS_CSV_GZ).read_bytes()
    text = zlib.decompressobj(wbits=31).decompress(raw).decode("utf-8", "replace")
    rows = csv.reader(io.StringIO(text))
    next(rows, None)
    for row in rows:
        if len(row) != len(record.FIELDS):
            continue  # the last line of a killed run may be cut short
        limit, remaining, reset, retry_after = (float(v) if v else None for v in row[5:9])
        yield record.Record(
            float(row[0]), float(row[1]), row[2], int(row[3]), row[4],
            limit, remaining, reset, retry_after, row[9],
        )  # fmt: skip


def read_timeline(path: Path) -> list[dict[str, float | None]]:
    with open(path / TIMELINE_CSV, newline="") as f:
        return [
            {k: (float(v) if v != "" else None) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def read_run(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((path / RUN_JSON).read_text())
    return data
