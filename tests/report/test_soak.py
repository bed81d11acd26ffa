"""A long run's report shows the limit minute by minute: the enforced rate per bucket (drift),
the share refused, and the reference server's memory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmload.report import write_report
from mmload.report.data import SOAK_MINUTES, ensure_verdict, load, record_stats
from mmload.results.folder import SERVER_JSON
from tests.support.synth import START, Plan, write_folder


def test_a_long_run_gets_a_soak_view_minute_by_minute(tmp_path: Path) -> None:
    plan = Plan(users=2, per_user=15.0, seconds=SOAK_MINUTES * 60.0 + 30, sources=2)
    folder = write_folder(tmp_path / "run", plan)
    samples = [[START + 10.0 * i, 40.0 + i / 10] for i in range(70)]
    (folder / SERVER_JSON).write_text(json.dumps({"memory_mb": samples}))
    stats = record_stats(ensure_verdict(load(folder)))
    soak = stats.soak
    assert soak is not None and len(soak.minute) == SOAK_MINUTES + 1
    # each address's bucket (one user at 15/s) refuses every minute: it accepts 10/s, a third
    # of what is offered is refused
    assert np.allclose(soak.rate[1:-1], 10.0, rtol=0.03), soak.rate
    assert np.allclose(soak.refused[1:], 1 / 3, atol=0.02), soak.refused
    assert len(soak.memory_mb) == 70 and soak.memory_t[0] < 1.5
    written = write_report(folder)
    assert folder / "soak.png" in written
    assert "soak" in (folder / "report.html").read_text()


def test_a_short_run_has_no_soak_view(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "run", Plan(users=2, per_user=15.0, seconds=30.0))
    assert record_stats(load(folder)).soak is None
    assert folder / "soak.png" not in write_report(folder)
