"""The Locust internals mmload relies on are listed in one place and present in the installed
Locust; one that goes away is named instead of failing halfway through a run."""

from __future__ import annotations

import pytest
from locust.runners import WorkerRunner

from mmload.harness import locust_api


def test_every_internal_mmload_uses_is_there() -> None:
    assert locust_api.missing() == []


def test_an_internal_that_went_away_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locust_api, "USED", (*locust_api.USED, (WorkerRunner, "gone_attr")))
    assert locust_api.missing() == ["WorkerRunner.gone_attr"]
