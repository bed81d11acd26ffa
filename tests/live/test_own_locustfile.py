"""A locustfile of one's own, written with ``mmload.locust`` only (the README's example), runs
against a generic API behind nginx's ``limit_req`` and gets a verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nginx import NGINX, Limit, Nginx, proxy_http
from tests.support.runs import REPO, FakeServer

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def readme_locustfile() -> str:
    """The README's example, as written there (the first ``python`` block of its section)."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Your own locustfile") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


def test_a_locustfile_of_ones_own_gets_a_verdict_through_nginx(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(readme_locustfile())
    with (
        FakeServer() as backend,
        Nginx.start(
            tmp_path / "nginx", lambda port: proxy_http(port, [backend.url], Limit(10, 5, 429))
        ) as nginx,
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(tmp_path / "api.py"),
                "--headless",
                "--host",
                nginx.url,
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "8s",
                "--documented-limit",
                "10/s",
                "--documented-burst",
                "5",
                "--run-dir",
                str(tmp_path / "run"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=90,
        )
    verdict = json.loads((tmp_path / "run" / "verdict.json").read_text())
    assert proc.returncode == 0, (proc.stderr[-3000:], verdict["summary"])
    checks = {c["id"]: c["passed"] for c in verdict["checks"]}
    assert checks["limit-enforced"] is True and checks["rate-matches-documented"] is True
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["totals"]["limited"] > 0 and run["totals"]["error"] == 0
