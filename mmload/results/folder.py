"""The run folder: raw data first, so every verdict, plot and report can be redone from disk.

| file | written by | read by |
|---|---|---|
| ``run.json`` | :func:`write_json` (configuration, totals; never secrets) | :func:`read_run` |
| ``timeline.csv`` | :class:`mmload.results.timeline_file.TimelineWriter` | ``read_timeline`` |
| ``records.bin`` | :class:`mmload.results.records_file.RecordsWriter` | ``read_records`` |
| ``keys.csv`` | :func:`write_keys` (totals per rate-limit key) | people and their tools |
| ``server.json`` | :func:`write_json` (the reference server's own counters) | :func:`read_server` |
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from mmload.results import utc
from mmload.results.record import OUTCOMES

RUN_JSON = "run.json"
RECORDS_BIN = "records.bin"
KEYS_CSV = "keys.csv"
SERVER_JSON = "server.json"


def new_run_dir(out: str | os.PathLike[str], scenario: str, now: datetime | None = None) -> Path:
    """``OUT/<UTC timestamp>-<scenario>``, made unique if two runs start in the same second."""
    base = Path(out) / f"{utc.stamp(now)}-{scenario}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole or not at all: it goes to ``<path>.tmp``
    first, which then replaces ``path`` in one step, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def read_run(folder: Path) -> dict[str, Any]:
    return _read_json(folder / RUN_JSON)


def read_run_or_empty(folder: Path) -> dict[str, Any]:
    """``run.json``, or {} when it is missing or unreadable (a run killed at its start)."""
    try:
        return read_run(folder)
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def read_server(folder: Path) -> dict[str, Any] | None:
    """The reference server's counters of an embedded run, None for any other run."""
    path = folder / SERVER_JSON
    return _read_json(path) if path.exists() else None


class NotARunFolder(ValueError):
    """A path given to a command that reads a run folder, which is not one."""


def check_run_folder(folder: Path, *needed: str) -> Path:
    """``folder`` when it is a run folder: it holds ``records.bin`` (and each file of ``needed``
    that a command reads too); a :class:`NotARunFolder` saying it has no ``records.bin``
    otherwise.  verify, report, export and compare refuse what is not one alike."""
    if not all((folder / name).is_file() for name in (RECORDS_BIN, *needed)):
        raise NotARunFolder(f"{folder} is not a run folder (it has no {RECORDS_BIN})")
    return folder


def write_keys(folder: Path, by_key: dict[str, dict[str, int]]) -> None:
    with open(folder / KEYS_CSV, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(("key", *OUTCOMES))
        for key, counts in sorted(by_key.items()):
            out.writerow((key, *(counts.get(o, 0) for o in OUTCOMES)))
