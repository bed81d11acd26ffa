"""A real Prometheus (Debian's ``prometheus``) scrapes a running ``mmload run`` on
``--prometheus-port``; once the run has ended, the last samples it kept are ``run.json``'s
totals, and the web UI serves the same metrics at ``/mmload/metrics``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mmload.results.folder import read_run
from tests.support.nginx import free_port
from tests.support.runs import mmload_run

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (apt-get install prometheus)"
)


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
    assert data["status"] == "success", data
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


def wait_ready(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert proc.poll() is None, "prometheus exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("prometheus did not get ready within its deadline")


def test_prometheus_scrapes_the_run_and_keeps_its_final_totals(tmp_path: Path) -> None:
    metrics_port, prometheus_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: mmload\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    assert PROMETHEUS is not None
    prometheus = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(prometheus_port, prometheus, time.monotonic() + 30)
        run = mmload_run(
            tmp_path,
            "-u",
            "4",
            "-t",
            "8s",
            "--prometheus-port",
            str(metrics_port),
            "--prometheus-linger",
            "4",
            timeout=120,
        )
        assert run.code in (0, 4) and run.folder is not None, run.err
        totals = read_run(run.folder)["totals"]
        last = {
            r["metric"]["outcome"]: float(r["value"][1])
            for r in query(
                prometheus_port,
                "sum by (outcome) (last_over_time(mmload_requests_total[10m]))",
            )
        }
        assert last == {o: float(totals[o]) for o in ("accepted", "limited", "error")}, totals
        assert sum(last.values()) == totals["offered"] > 0
        limit = query(prometheus_port, "last_over_time(mmload_ratelimit_limit[10m])")
        assert [float(r["value"][1]) for r in limit] == [101.0]  # Mattermost's MaxBurst + 1
        documented = query(prometheus_port, "last_over_time(mmload_documented_rate[10m])")
        assert float(documented[0]["value"][1]) == 10.0
    finally:
        prometheus.terminate()
        prometheus.wait(10)


def test_a_taken_port_is_refused_before_any_load(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = mmload_run(
            tmp_path, "-u", "1", "-t", "2s", "--prometheus-port", str(port), timeout=60
        )
    assert run.code == 2, run.err
    assert f"--prometheus-port {port}: cannot listen on 127.0.0.1:{port}" in run.err
    assert "Traceback" not in run.err
    assert "Starting Locust" not in run.err  # refused before anything started


def test_the_prometheus_host_alone_is_refused(tmp_path: Path) -> None:
    run = mmload_run(tmp_path, "--prometheus-host", "127.0.0.1", timeout=60)
    assert run.code == 2 and "act on --prometheus-port" in run.err, run.err
