"""``mmload locustfile NAME`` prints where a scenario's locustfile is, inside the package."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import mmload
from mmload.cli import main
from mmload.harness.scenarios import NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_scenario_s_locustfile_is_in_the_package(name: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["locustfile", name], out, err) == 0, err.getvalue()
    path = Path(out.getvalue().strip())
    assert path.is_file() and Path(mmload.__file__).parent in path.parents
    assert "User" in path.read_text()  # it defines the scenario's Locust user


def test_an_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["locustfile", "soak"])
    assert exited.value.code == 2
    assert "invalid choice: 'soak'" in capsys.readouterr().err
