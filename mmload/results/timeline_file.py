"""``timeline.csv``: one row per second (:data:`mmload.results.timeline.COLUMNS`).

A second's row is provisional until no request sent in it can still be answered (the request
timeout has passed); provisional rows are rewritten at every flush, final rows only appended.
Should a response come later still, its second gets a second row: readers merge rows of the same
second.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mmload.results.timeline import COLUMNS, Second, highest, lowest

TIMELINE_CSV = "timeline.csv"
Row = dict[str, float | None]
_SUMS = ("offered", "accepted", "limited", "errors", "client_errors")
_MINS = ("remaining_min", "limit_min")
_MAXES = ("remaining_max", "limit_max", "reset_max", "retry_after_max")


def _cell(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return "" if value is None else value


class TimelineWriter:
    def __init__(self, folder: Path) -> None:
        self._file = open(folder / TIMELINE_CSV, "w+", newline="")  # noqa: SIM115
        csv.writer(self._file).writerow(COLUMNS)
        self._closed_end = self._file.tell()

    def write(self, closed: list[Second], still_open: list[Second]) -> None:
        """Append closed seconds for good; open ones are provisional, rewritten next time."""
        f = self._file
        f.seek(self._closed_end)
        out = csv.writer(f)
        out.writerows([_cell(v) for v in s.row()] for s in closed)
        self._closed_end = f.tell()
        out.writerows([_cell(v) for v in s.row()] for s in still_open)
        f.truncate()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _merge_rows(a: Row, b: Row) -> Row:
    """Two rows of one second: counts add, extremes combine; a latency quantile cannot be
    merged exactly, so each outcome's quantiles come from the row with more of that outcome."""
    merged = dict(a)
    for k in _SUMS:
        merged[k] = (a.get(k) or 0) + (b.get(k) or 0)  # client_errors: not in older runs
    for k in _MINS:
        merged[k] = lowest(a[k], b[k])
    for k in _MAXES:
        merged[k] = highest(a[k], b[k])
    for outcome in ("accepted", "limited"):
        if (b[outcome] or 0) > (a[outcome] or 0):
            for q in ("p50", "p95"):
                merged[f"{outcome}_{q}_ms"] = b[f"{outcome}_{q}_ms"]
    return merged


def read_timeline(folder: Path) -> list[Row]:
    """The rows in order of their second, one row per second (rows of one second merged)."""
    rows: dict[float, Row] = {}
    with open(folder / TIMELINE_CSV, newline="") as f:
        for raw in csv.DictReader(f):
            row: Row = {k: (float(v) if v not in ("", None) else None) for k, v in raw.items()}
            second = row["second"]
            if second is None:
                continue  # a line cut short by a kill
            rows[second] = _merge_rows(rows[second], row) if second in rows else row
    return [rows[s] for s in sorted(rows)]
