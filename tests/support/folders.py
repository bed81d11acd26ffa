"""Synthesized runs (``synth``) made once per test session and handed out again: several tests
read the same plan's run (the default hammer alone some thirty), and synthesizing and judging
it is most of what each of them costs.

``synthesized`` copies the plan's run folder, written once, to where the test wants it: every
test still gets a folder of its own to change.  ``records_of`` is a new list of the plan's
records, simulated once.  The plan is the whole key, so only for runs synthesized as the plan
says: a test that patches what the synthesizer calls (a dialect's rendering, say) simulates
and writes its own, with ``synth.simulate`` and ``synth.write_folder``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import astuple
from pathlib import Path
from typing import Any

from mmload.results.record import Record
from mmload.verdict import verify
from mmload.verdict.output import write as write_verdict
from tests.support.synth import Plan, simulate, write_folder

_folders: dict[tuple[Any, bool], Path] = {}
_records: dict[Any, tuple[Record, ...]] = {}
_root: list[Path] = []  # the session's own directory, made on first use


def _key(plan: Plan) -> Any:
    """What the plan synthesizes: every setting (Plan(seconds=20) is Plan(seconds=20.0))."""
    return astuple(plan)


def _session_dir() -> Path:
    if not _root:
        _root.append(Path(tempfile.mkdtemp(prefix="mmload-synthesized-")))
        atexit.register(shutil.rmtree, _root[0], True)
    return _root[0]


def synthesized(plan: Plan, folder: Path, judged: bool = False) -> Path:
    """A copy at ``folder`` of the plan's run folder (``synth.write_folder``); ``judged``: with
    the verdict's files beside it (verdict.json, verdict.xml, summary.md), as ``mmload verify``
    leaves them."""
    key = (_key(plan), judged)
    made = _folders.get(key)
    if made is None:
        made = write_folder(_session_dir() / f"run{len(_folders)}", plan)
        if judged:
            write_verdict(made, verify(made))
        _folders[key] = made
    shutil.copytree(made, folder, dirs_exist_ok=True)
    return folder


def records_of(plan: Plan) -> list[Record]:
    """``synth.simulate(plan)``, simulated once per session: a new list each time."""
    key = _key(plan)
    made = _records.get(key)
    if made is None:
        made = _records[key] = tuple(simulate(plan))
    return list(made)
