"""The live rate-limit view in Locust's web UI: the tab's cells, the "Rate limits" tab and the
chart page in headless Chromium during a real swarm, the master's merged data from two workers,
where the web UI listens by default, and the login that ``--web-login`` puts in front of it; how a
test ends in it: the outcome and the report in the tab while ``mmload run --web`` lingers, then
the verdict's exit code, and a run folder, verdict and report for each test started from it.
The numbers themselves are tested in tests/results/test_live_view.py."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
import requests

from mmload.exitcodes import ExitStatus
from mmload.harness import plugin
from mmload.harness.webui import table
from mmload.launch.run import RunOptions, locust_command
from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.results.folder import read_run
from mmload.results.live import ALL, ALL_KEYS, Live
from mmload.results.records_file import read_records
from tests.support.records import LOGIN, ME, saturated
from tests.support.runs import REPO, locust_cmd, mmload_run
from tests.support.server_fixture import ServeFactory

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
T = TypeVar("T")


# the tab's cells
def test_tab_shows_a_dash_where_an_estimate_would_mislead() -> None:
    live = Live(Documented.resolve())
    live.add(
        Block.from_records(
            saturated(range(0, 6), key="addr:a")
            + saturated(range(0, 6), 4, 10, "addr:a", LOGIN, 0.2)
            + saturated(range(0, 6), 12, key="addr:b")
        )
    )
    cells = {(r["key"], r["endpoint"]): r for r in table(live.view(8.0))}
    assert cells[(ALL_KEYS, ALL)]["enforced"] == 13.0  # the median of the keys' 14 and 12
    assert cells[("addr:a", ALL)]["enforced"] == 14.0 and cells[("addr:b", ME)]["enforced"] == 12.0
    for part in ((ALL_KEYS, ME), (ALL_KEYS, LOGIN), ("addr:a", ME), ("addr:a", LOGIN)):
        assert cells[part]["enforced"] == "\u2014", part
    across = cells[(ALL_KEYS, ME)]  # Remaining is per key: none across keys; Limit is shown
    assert (across["remaining"], across["limit"]) == ("\u2014", 101.0)


# where the web UI listens
def test_plain_locust_listens_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from locust.argument_parser import get_parser

    plugin.install()
    monkeypatch.delenv("LOCUST_WEB_HOST", raising=False)
    parse = get_parser().parse_args
    assert parse(["-f", "locustfiles/hammer.py"]).web_host == "127.0.0.1"
    assert parse(["-f", "locustfiles/hammer.py", "--web-host", "*"]).web_host == "*"
    monkeypatch.setenv("LOCUST_WEB_HOST", "0.0.0.0")
    assert get_parser().parse_args(["-f", "locustfiles/hammer.py"]).web_host == "0.0.0.0"


def test_mmload_run_web_host(tmp_path: Path) -> None:
    command = locust_command(RunOptions(web=True), "http://h", tmp_path)
    assert command[command.index("--web-host") + 1] == "127.0.0.1"
    command = locust_command(RunOptions(web=True, web_host="*"), "http://h", tmp_path)
    assert command[command.index("--web-host") + 1] == "*"
    done = mmload_run(tmp_path, "--web-host", "0.0.0.0", timeout=30)  # without --web: refused
    assert done.code == 2 and "without --web there is none" in done.err, done.err
    assert not list(tmp_path.iterdir())


# helpers for real runs
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    what: str, condition: Callable[[], T | None], timeout: float, seen: Callable[[], str] = str
) -> T:
    """Poll ``condition`` until it returns something truthy; fail saying what never came, and
    what was ``seen`` last."""
    deadline, last_error = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (OSError, ValueError, KeyError) as exc:  # not up yet, or mid-restart
            last_error = repr(exc)
        time.sleep(0.2)
    pytest.fail(f"no {what} within {timeout:g} s: {seen()} {last_error}", pytrace=False)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


@contextmanager
def locust(
    tmp_path: Path, scenario: str, host: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A Locust process with its web UI on a free port; yields the UI's URL; SIGTERM at the end
    (killed if it outlives 30 s); its output goes to tmp_path/locust.log."""
    port = free_port()
    log = open(tmp_path / "locust.log", "w+")  # noqa: SIM115  closed below
    out = () if "--run-dir" in args else ("--out", str(tmp_path / "runs"))  # never the repo's
    proc = subprocess.Popen(
        locust_cmd(scenario, host, *args, *out, "--web-port", str(port)),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its --processes workers, too, are stopped at the end
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, log_of(tmp_path)
        with urllib.request.urlopen(url + "/", timeout=2):
            return True

    try:
        wait_for("web UI", up, timeout=20)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Locust's workers would wait a minute for the master's heartbeat before quitting
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        log.close()


def log_of(tmp_path: Path) -> str:
    return (tmp_path / "locust.log").read_text()


# the browser
def browser(tmp_path: Path) -> Any:
    """Debian's chromium, headless, through its own chromedriver (Selenium Manager never runs,
    so nothing is downloaded); skipped where it is missing, unless in CI."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if missing:
        why = (
            f"the browser test needs {', '.join(missing)}: apt-get install chromium chromium-driver"
        )
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-component-update",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def rate_limit_rows(driver: Any) -> list[dict[str, str]]:
    """The Rate limits tab's table as dicts by column title."""
    from selenium.webdriver.common.by import By

    tables = driver.find_elements(By.TAG_NAME, "table")
    if not tables:
        return []
    titles = [
        th.text.replace("\n", " ") for th in tables[0].find_elements(By.CSS_SELECTOR, "thead th")
    ]
    return [
        dict(zip(titles, [td.text for td in tr.find_elements(By.TAG_NAME, "td")], strict=False))
        for tr in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def tab_named(title: str) -> Callable[[Any], Any]:
    from selenium.webdriver.common.by import By

    def find(driver: Any) -> Any:
        tabs = driver.find_elements(By.CSS_SELECTOR, "[role=tab]")
        return next((t for t in tabs if t.text.strip().lower() == title.lower()), None)

    return find


def rows_with_429s(driver: Any) -> dict[str, dict[str, str]]:
    """The tab's rows for /users/me with 429s, by key, once the row of all keys has an estimate
    and a user's key has a row ({} until then: falsy)."""
    rows = {
        row.get("Rate-limit key", ""): row
        for row in rate_limit_rows(driver)
        if row.get("Endpoint") == ME
        and number(row.get("429/s")) > 0
        and number(row.get("429s (total)")) > 0
    }
    across = rows.get(ALL_KEYS, {})
    ready = any(k.startswith("token:") for k in rows) and enforced(across) != "\u2014"
    return rows if ready else {}


def number(cell: str | None) -> float:
    """A cell's number; 0 for an empty cell or the dash of what is not known yet."""
    return 0.0 if cell in (None, "", "\u2014") else float(cell)


def enforced(row: dict[str, str]) -> str:
    return next((v for k, v in row.items() if k.startswith("Enforced/s")), "\u2014")


def shown(element_id: str) -> Callable[[Any], Any]:
    from selenium.webdriver.common.by import By

    def find(driver: Any) -> Any:
        found = driver.find_elements(By.ID, element_id)
        return found[0] if found and found[0].is_displayed() else None

    return find


def chart_drawn(driver: Any) -> dict[str, Any]:
    """What the chart plotted, once it has a few seconds of it ({} until then: falsy)."""
    plotted = chart(driver)
    return plotted if plotted.get("accepted_points", 0) >= 3 else {}


@pytest.mark.slow
def test_rate_limits_tab_and_live_chart_in_chromium(tmp_path: Path, serve: ServeFactory) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser(tmp_path)
    server = serve("--vary-by-user", "--no-vary-by-remote-addr")  # a bucket per user: rows of
    run = ["--autostart", "-u", "5", "-r", "5", "-t", "20s", "--accounts", "5", "--vary-by"]
    run += ["user", "--run-dir", str(tmp_path / "run")]  # all keys, and an estimate of ~10/s
    try:
        with locust(tmp_path, "hammer", server.url, *run) as url:
            port = url.rsplit(":", 1)[1]  # no --web-host given: loopback only
            assert f"Starting web interface at http://127.0.0.1:{port}," in log_of(tmp_path)
            driver.get(url + "/")
            WebDriverWait(driver, 15).until(tab_named("Rate limits"), "no Rate limits tab").click()
            limited = WebDriverWait(driver, 20).until(rows_with_429s, "no rows with 429s")
            assert rate_limit_rows(driver)[0]["Rate-limit key"] == ALL_KEYS  # first
            users = [row for key, row in limited.items() if key.startswith("token:")]
            assert users[0]["Limit"] == "101" and limited[ALL_KEYS]["Remaining"] == "\u2014"
            assert 8 <= float(enforced(limited[ALL_KEYS])) <= 12  # the keys' median, ~10/s
            WebDriverWait(driver, 5).until(shown("mmload-chart-link"), "no chart link").click()
            drawn = WebDriverWait(driver, 15).until(chart_drawn, "the chart page drew no series")
            driver.save_screenshot(str(tmp_path / "chart.png"))
            assert drawn["documented"] == "10" and drawn["limited_max"] > 0
            assert drawn["accepted_vertices"] == 2 * drawn["accepted_points"]  # a step a second
            lines = [i for i in drawn["order"] if i.startswith("series-") or i.endswith("-line")]
            assert "documented-line" in lines and lines[-1] == "series-accepted"  # on top
            assert "against the documented 10/s burst 100" in drawn["summary"]
            csv = requests.get(url + "/mmload/live.csv", timeout=5)
            assert csv.headers["Content-Type"].startswith("text/csv")
            csv_lines = csv.text.splitlines()
            assert any(line.startswith(f"{ALL_KEYS},{ME},") for line in csv_lines)
            assert any(line.startswith("token:") and f",{ME}," in line for line in csv_lines)
    finally:
        driver.quit()


def chart(driver: Any) -> dict[str, Any]:
    """What the chart page plotted, read back from its SVG."""
    from selenium.webdriver.common.by import By

    found: dict[str, Any] = {}
    for name in ("accepted", "limited"):
        lines = driver.find_elements(By.ID, f"series-{name}")
        if not lines:
            return {}
        found[f"{name}_points"] = int(lines[0].get_attribute("data-points"))
        found[f"{name}_vertices"] = len(lines[0].get_attribute("points").split())
        found[f"{name}_max"] = float(lines[0].get_attribute("data-max"))
    svg = driver.find_element(By.ID, "chart")
    found["order"] = [e.get_attribute("id") for e in svg.find_elements(By.XPATH, "./*")]
    documented = driver.find_elements(By.ID, "documented-line")
    found["documented"] = documented[0].get_attribute("data-value") if documented else None
    found["summary"] = driver.find_element(By.ID, "summary").text
    return found


# distributed: the master shows every worker's data
@pytest.mark.slow
def test_master_live_view_merges_both_workers(tmp_path: Path, serve: ServeFactory) -> None:
    server = serve()
    run = ["--processes", "2", "--autostart", "-u", "4", "-r", "4", "-t", "6s", "--accounts", "4"]
    run += ["--vary-by", "user", "--run-dir", str(tmp_path / "run")]
    port = str(free_port())  # not Locust's default 5557: other runs may be using it
    run += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-port", port]
    with locust(tmp_path, "hammer", server.url, *run) as url:
        seen: dict[str, Any] = {"totals": []}

        def settled() -> dict[str, Any] | None:
            """The view once the run stopped and nothing came for 2 s: every last batch is in."""
            seen["state"] = get_json(url + "/stats/requests")["state"]
            live = get_json(url + "/mmload/live.json")
            seen["totals"].append((time.monotonic(), total_requests(live)))
            steady = [n for at, n in seen["totals"] if at > time.monotonic() - 2.0]
            done = seen["state"] == "stopped" and len(set(steady)) == 1 and len(steady) > 5
            return live if done else None

        live = wait_for("settled live view after the run", settled, 30, lambda: repr(seen)[-300:])
    totals = read_run(tmp_path / "run")["totals"]  # the collector's exact merge, at the end
    me = [r for r in key_rows(live) if r["endpoint"] == ME]
    assert len({r["key"] for r in me}) == 4  # a key per user: both workers' users are there
    assert total_requests(live) == totals["offered"] > 0
    assert sum(r["refused"] for r in key_rows(live)) == totals["limited"] > 0
    across = {r["endpoint"]: r for r in live["rows"] if r["key"] == ALL_KEYS}  # logins: addr:
    assert across[ALL]["requests"] == totals["offered"]
    assert across[ALL]["refused"] == totals["limited"]
    assert across[ME]["requests"] == sum(r["requests"] for r in me)
    assert across[ME]["refused"] == sum(r["refused"] for r in me) > 0


def key_rows(live: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one key and one endpoint: each request is in exactly one."""
    return [r for r in live["rows"] if r["key"] != ALL_KEYS and r["endpoint"] != ALL]


def total_requests(live: dict[str, Any]) -> int:
    return sum(r["requests"] for r in key_rows(live))


# --web-login
@pytest.mark.slow
def test_web_login_guards_the_live_view(tmp_path: Path, serve: ServeFactory) -> None:
    server = serve()
    args = ("hammer", server.url, "--web-login", "--accounts", "1")
    command = locust_cmd(*args, "--web-port", str(free_port()))
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "MMLOAD_WEB_LOGIN=user:password" in refused.stderr
    with locust(tmp_path, *args, env={"MMLOAD_WEB_LOGIN": "ops:s3cret"}) as url:
        session = requests.Session()

        def lands_on(method: str, path: str, **kw: Any) -> str:
            return urlsplit(session.request(method, url + path, timeout=5, **kw).url).path

        guarded = ["/mmload/live.json", "/mmload/", "/mmload/live.csv", "/stats/requests"]
        guarded += ["/mmload/tests.json", "/mmload/report.html", "/mmload/tests/1/report.html"]
        for path in guarded:
            assert lands_on("GET", path) == "/login", path
        wrong, right = ({"username": "ops", "password": p} for p in ("guess", "s3cret"))
        assert lands_on("POST", "/mmload/login", data=wrong) == "/login"
        assert lands_on("GET", "/mmload/live.json") == "/login"
        assert lands_on("POST", "/mmload/login", data=right) == "/"
        answer = session.get(url + "/mmload/live.json", timeout=5)
        assert answer.status_code == 200 and answer.json()["rows"] == []
        assert session.get(url + "/mmload/tests.json", timeout=5).json() == []  # none started
    assert "s3cret" not in log_of(tmp_path)


# how a test ends in the web UI
EXIT = {"pass": ExitStatus.OK, "fail": ExitStatus.NONCONFORMANT}
EXIT |= {"inconclusive": ExitStatus.INCONCLUSIVE}


def outcome_shown(driver: Any) -> dict[str, str]:
    """The tab's panel entry of the last test once it is done ({} until then: falsy).

    Read in one script, so the panel re-rendering between two reads cannot leave a stale element."""
    found = driver.execute_script(
        """
        for (const row of document.querySelectorAll("#mmload-outcome .mmload-test")) {
          if (row.dataset.status !== "done" || row.getClientRects().length === 0) continue;
          const link = row.querySelector("a.mmload-report");
          return {test: row.dataset.test || "", outcome: row.dataset.outcome || "",
                  text: row.innerText, report: link ? link.href : ""};
        }
        return null;
        """
    )
    return dict(found) if found else {}


@pytest.mark.slow
def test_mmload_run_web_shows_the_outcome_then_ends_with_the_verdicts_code(
    tmp_path: Path,
) -> None:
    """``mmload run --web``: the run time over, the verdict and the report are written, and for
    --web-linger seconds the Rate limits tab shows the outcome, the verdict's summary and a link
    to report.html, which the web UI serves; then the process ends by itself with the verdict's
    exit code.  --web-linger without --web is refused."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser(tmp_path)
    port, linger = free_port(), 6
    command = [sys.executable, "-m", "mmload", "run", "--out", str(tmp_path / "runs"), "--web"]
    command += ["-u", "4", "-t", "4s", "--web-linger", str(linger), "--", "--web-port", str(port)]
    log = open(tmp_path / "run.log", "w+")  # noqa: SIM115  closed below
    proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            with urllib.request.urlopen(url + "/", timeout=2):
                return True

        wait_for("web UI", up, timeout=30)
        driver.get(url + "/")
        WebDriverWait(driver, 15).until(tab_named("Rate limits"), "no Rate limits tab").click()
        shown = WebDriverWait(driver, 40).until(outcome_shown, "no outcome in the tab")
        seen_at = time.monotonic()
        driver.save_screenshot(str(tmp_path / "outcome.png"))
        (test,) = get_json(url + "/mmload/tests.json")
        folder = Path(test["path"])
        verdict = json.loads((folder / "verdict.json").read_text())
        assert shown["test"] == "1" and shown["outcome"] == verdict["outcome"] == test["outcome"]
        code = int(EXIT[verdict["outcome"]])
        assert f"Test 1: {verdict['outcome'].upper()} (exit {code})" in shown["text"]
        assert verdict["summary"] in shown["text"] and str(folder) in shown["text"]
        page = (folder / "report.html").read_bytes()
        for link in (shown["report"], url + "/mmload/report.html"):
            answer = requests.get(link, timeout=10)
            assert answer.status_code == 200 and answer.content == page, link
            assert answer.headers["Content-Type"].startswith("text/html")
        assert proc.wait(timeout=linger + 30) == code  # by itself: nobody stops it
        assert linger - 4 <= time.monotonic() - seen_at <= linger + 20
    finally:
        driver.quit()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert (tmp_path / "run.log").read_text().rstrip().endswith(str(folder))
    command = locust_command(RunOptions(web=True, web_linger=7.0), "http://h", tmp_path)
    assert command[command.index("--autoquit") + 1] == "7"
    refused = mmload_run(tmp_path, "--web-linger", "3", timeout=30)  # without --web: refused
    assert refused.code == 2 and "without --web there is none" in refused.err, refused.err


@pytest.mark.slow
def test_each_test_started_from_the_web_ui_has_its_own_run_folder(
    tmp_path: Path, serve: ServeFactory
) -> None:
    """Without -t the web UI stays; each test started from it (start, stop, start again) gets
    a run folder of its own, its own verdict and report when it stops, linked from the tab; the
    second writes nothing into the first's.  The process exits with the last one's code."""
    server = serve()
    runs = tmp_path / "runs"
    with locust(tmp_path, "hammer", server.url, "--accounts", "4") as url:
        for number in (1, 2):
            form = {"user_count": "4", "spawn_rate": "4", "host": server.url}
            assert requests.post(url + "/swarm", data=form, timeout=10).json()["success"]

            def sent(n: int = number) -> bool:
                """Test n runs, and its load (after a second of logins) has begun."""
                last = get_json(url + "/mmload/tests.json")[0]
                live = get_json(url + "/mmload/live.json")
                return last["test"] == n and last["status"] == "running" and bool(live["rows"])

            wait_for(f"test {number} under way", sent, timeout=15)
            time.sleep(2)
            assert requests.post(url + "/stop", timeout=90).json()["success"]
            last = wait_for(
                f"test {number}'s verdict",
                lambda: (t := get_json(url + "/mmload/tests.json")[0])["status"] == "done" and t,
                timeout=60,
            )
            assert last["test"] == number and last["report"], last
        tests = get_json(url + "/mmload/tests.json")
        assert [t["test"] for t in tests] == [2, 1]  # the last first
        for test in tests:
            folder = Path(test["path"])
            assert folder.parent == runs
            verdict = json.loads((folder / "verdict.json").read_text())
            assert test["outcome"] == verdict["outcome"] and test["summary"] == verdict["summary"]
            assert test["exit_code"] == EXIT[verdict["outcome"]]
            answer = requests.get(url + "/" + test["report"].removeprefix("./"), timeout=10)
            assert answer.status_code == 200
            assert answer.content == (folder / "report.html").read_bytes()
        missing = requests.get(url + "/mmload/tests/3/report.html", timeout=10)
        assert missing.status_code == 404 and "no report yet" in missing.text
    first, second = (Path(t["path"]) for t in reversed(tests))
    assert sorted(runs.iterdir()) == sorted([first, second])
    sent_at = []
    for folder in (first, second):
        run = read_run(folder)
        records = list(read_records(folder))
        assert run["status"] == "finished" and run["totals"]["offered"] == len(records) > 0
        sent_at.append((min(r.sent for r in records), max(r.sent for r in records)))
    assert sent_at[0][1] < sent_at[1][0]  # the second test's records are in its folder alone
    assert f"Shutting down (exit code {tests[0]['exit_code']})" in log_of(tmp_path)
