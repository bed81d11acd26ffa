"""``make test`` is what CI runs: it must fail when pytest collects no test."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.runs import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_test_fails_when_no_test_is_collected() -> None:
    """`make test` fails on pytest's exit 5 (nothing collected), before the lint."""
    proc = subprocess.run(
        ["make", "--no-print-directory", "test", "PYTEST_ARGS=-k no_test_has_this_name"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "deselected" in proc.stdout and "ruff" not in proc.stdout  # stopped before lint
