"""A "Rate limits" tab in Locust's web UI, and a live chart page served by Locust's own app.

Locust's extension points give the tab its table and its CSV (``web_ui.template_args``:
``extended_tabs``, ``extended_tables``, ``extended_csv_files``; ``extended_stats`` added to each
``/stats/requests`` answer by an ``after_request`` hook).  Custom charts are not among them, so
the chart is a page of its own, ``/mmload/`` (:mod:`mmload.harness.webui_page`), linked from the
tab.  The numbers come from the collector's per-second blocks (on the master, every worker's) in
a :class:`~mmload.results.live.Live`, which exists only when there is a web UI: a headless run
never computes any of it.

How each test ended is there too: ``/mmload/tests.json`` lists the tests this process ran (each
with a run folder of its own) and, once one stopped, its outcome and the verdict's one-line
summary; the tab shows them (:data:`~mmload.harness.webui_page.TAB_SCRIPT`) with a link to each
test's ``report.html``, served at ``/mmload/tests/<n>/report.html`` (the last one's also at
``/mmload/report.html``).

The web UI listens on 127.0.0.1 unless ``--web-host`` says otherwise; ``--web-login`` puts
Locust's login page in front of all of it, checking ``MMLOAD_WEB_LOGIN=user:password``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, Response, redirect, request, session, url_for
from flask_login import UserMixin, login_user
from locust.env import Environment
from locust.web import WebUI
from werkzeug.wrappers import Response as Redirect

from mmload.harness.collector import MasterCollector
from mmload.harness.runfolder import REPORT_HTML, RunFolder
from mmload.harness.state import state
from mmload.harness.webui_page import CHART_PAGE, CSP, REPORT_CSP, TAB_SCRIPT
from mmload.options import Settings
from mmload.results.live import Live, to_csv
from mmload.results.record import LIMITED, limited_label

log = logging.getLogger("mmload")

TAB = "rate-limits"
LOOPBACK = "127.0.0.1"
LOCAL_ONLY = ("127.0.0.1", "::1", "localhost")
LOGIN_ENV = "MMLOAD_WEB_LOGIN"
TAB_SCRIPT_TAG = '<script src="./mmload/tab.js"></script>'
NO_STORE = {"Cache-Control": "no-store"}


class WebUIError(Exception):
    """A web UI option that cannot act as given (a usage error)."""


def loopback_by_default(parser: Any, **_: Any) -> None:
    """``events.init_command_line_parser``: the web UI listens on 127.0.0.1 unless
    ``--web-host`` (or ``LOCUST_WEB_HOST``, or a config file) names another address.  (Locust
    prints ``--help`` before it loads a locustfile, so its help still says '*'.)"""
    parser.set_defaults(web_host=LOOPBACK)


def register(environment: Environment) -> Live:
    """Give Locust's web UI the tab, the chart page and, with ``--web-login``, a login; return
    the live view the collector hands each block to.  WebUIError if an option cannot act."""
    web_ui = environment.web_ui
    assert web_ui is not None
    options = environment.parsed_options
    base = getattr(options, "web_base_path", "") or ""
    if getattr(options, "web_login", False):
        _add_login(web_ui, *_credentials(), base)
    elif web_ui.host not in LOCAL_ONLY:
        log.warning(
            "mmload: the web UI listens on %s: whoever reaches this machine can start, stop and "
            "watch the load; --web-login (with %s=user:password) asks for a login",
            web_ui.host or "all interfaces",
            LOGIN_ENV,
        )
    settings = Settings.from_options(options)
    documented = settings.documented
    live = Live(documented, limited=settings.limited_status)
    app = web_ui.app
    assert app is not None
    app.register_blueprint(_blueprint(web_ui, live, base, lambda: _tests(environment)))
    app.after_request(_extend(live))
    environment.events.reset_stats.add_listener(lambda **_: live.clear())
    # a test started again from the UI has a run folder of its own, and its own live view too
    environment.events.test_start.add_listener(lambda **_: live.clear())
    ours = {
        "extended_tabs": {"title": "Rate limits", "key": TAB},
        "extended_tables": {
            "key": TAB,
            "structure": _structure(str(documented), settings.limited_status),
        },
        "extended_csv_files": {"href": "./mmload/live.csv", "title": "Download rate limits CSV"},
    }
    for name, entry in ours.items():  # beside another plugin's, never instead of them
        web_ui.template_args[name] = [*_others(web_ui.template_args.get(name)), entry]
    return live


def _others(entries: Any) -> list[Any]:
    """Another plugin's entries of one of Locust's extension lists (this tab's left out)."""
    return [
        e
        for e in entries or []
        if not (isinstance(e, dict) and e.get("key") == TAB)
        and not (isinstance(e, dict) and e.get("href") == "./mmload/live.csv")
    ]


def _structure(documented: str, limited: frozenset[int] = LIMITED) -> list[dict[str, str]]:
    """The tab's columns; refusals are called by their status when there is one (``429/s``),
    else ``limited``."""
    label = limited_label(limited)
    return [
        {"key": "key", "title": "Rate-limit key"},
        {"key": "endpoint", "title": "Endpoint"},
        {"key": "offered", "title": "Offered/s"},
        {"key": "accepted", "title": "Accepted/s"},
        {"key": "limited", "title": f"{label}/s"},
        {"key": "refused", "title": f"{label}s (total)" if label.isdigit() else "limited (total)"},
        {"key": "requests", "title": "Requests (total)"},
        {"key": "remaining", "title": "Remaining"},
        {"key": "limit", "title": "Limit"},
        {"key": "reset", "title": "Reset"},
        {"key": "enforced", "title": f"Enforced/s per key, estimate (documented {documented})"},
    ]


def table(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The tab's rows: numbers to one decimal, a dash where nothing is known yet."""

    def cell(value: Any) -> Any:
        if value is None:
            return "\u2014"
        return round(value, 1) if isinstance(value, float) else value

    return [{k: cell(v) for k, v in row.items()} for row in view["rows"]]


def _extend(live: Live) -> Callable[[Response], Response]:
    def extend(response: Response) -> Response:
        if response.status_code != 200:
            return response
        if request.endpoint == "locust.request_stats" and response.is_json:
            data = response.get_json()  # Locust caches this response: replace ours, keep others'
            ours = {"key": TAB, "data": table(live.view(time.time()))}
            data["extended_stats"] = [*_others(data.get("extended_stats")), ours]
            response.set_data(json.dumps(data))
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            response.set_data(page.replace("</body>", TAB_SCRIPT_TAG + "</body>", 1))
        return response

    return extend


def _tests(environment: Environment) -> list[RunFolder]:
    """The run folders of the tests this process ran, in the order they started (none before
    the collector is registered)."""
    collector = state(environment).collector
    return list(collector.tests) if isinstance(collector, MasterCollector) else []


def tests_view(folders: Sequence[RunFolder]) -> list[dict[str, Any]]:
    """``/mmload/tests.json``: each test, the last first, with its run folder, its status
    (running, judging, done) and, once done, its outcome, the verdict's summary, its exit code
    and the link to its report (relative to Locust's page)."""
    view = []
    for folder in reversed(folders):
        result = folder.result
        report = result is not None and result.report
        view.append(
            {
                "test": folder.number,
                "folder": folder.path.name,
                "path": str(folder.path),
                "status": folder.status,
                "outcome": result.outcome if result else None,
                "summary": result.summary if result else None,
                "impaired": result.impaired if result else None,
                "exit_code": result.code if result else None,
                "report": f"./mmload/tests/{folder.number}/{REPORT_HTML}" if report else None,
            }
        )
    return view


NO_REPORT = (
    "no report yet: a test's verdict and report are written when it stops "
    "(/mmload/tests.json says how far each test is)\n"
)


def _report(folder: RunFolder | None) -> Response:
    """A test's report.html, as ``mmload report`` wrote it; 404 while there is none."""
    if folder is None or folder.result is None or not folder.result.report:
        return Response(NO_REPORT, status=404, mimetype="text/plain", headers=NO_STORE)
    try:
        page = (folder.path / REPORT_HTML).read_bytes()
    except OSError as exc:
        why = f"cannot read {folder.path / REPORT_HTML}: {exc.strerror or exc}\n"
        return Response(why, status=404, mimetype="text/plain", headers=NO_STORE)
    return Response(
        page, mimetype="text/html", headers={**NO_STORE, "Content-Security-Policy": REPORT_CSP}
    )


def _blueprint(
    web_ui: WebUI, live: Live, base: str, tests: Callable[[], list[RunFolder]]
) -> Blueprint:
    pages = Blueprint("mmload", __name__, url_prefix=base or None)
    guard = web_ui.auth_required_if_enabled  # behind the login too, with --web-login

    @pages.route("/mmload/")
    @guard
    def chart() -> Response:
        return Response(CHART_PAGE, mimetype="text/html", headers={"Content-Security-Policy": CSP})

    @pages.route("/mmload/tab.js")
    @guard
    def tab_script() -> Response:
        return Response(TAB_SCRIPT, mimetype="text/javascript")

    @pages.route("/mmload/live.json")
    @guard
    def live_json() -> Response:
        view = json.dumps(live.view(time.time()), allow_nan=False)
        return Response(view, mimetype="application/json", headers=NO_STORE)

    @pages.route("/mmload/live.csv")
    @guard
    def live_csv() -> Response:
        name = time.strftime("rate_limits_%Y%m%dT%H%M%S.csv")
        return Response(
            to_csv(live.view(time.time())["rows"]),
            mimetype="text/csv",
            headers={**NO_STORE, "Content-Disposition": f"attachment; filename={name}"},
        )

    @pages.route("/mmload/tests.json")
    @guard
    def tests_json() -> Response:
        view = json.dumps(tests_view(tests()), allow_nan=False)
        return Response(view, mimetype="application/json", headers=NO_STORE)

    @pages.route("/mmload/tests/<int:number>/report.html")
    @guard
    def test_report(number: int) -> Response:
        return _report(next((f for f in tests() if f.number == number), None))

    @pages.route("/mmload/report.html")
    @guard
    def last_report() -> Response:
        done = [f for f in tests() if f.result is not None and f.result.report]
        return _report(done[-1] if done else None)

    return pages


# --web-login: Locust draws the login page; mmload checks the one login it is given
class _Operator(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


def _credentials() -> tuple[str, str]:
    user, colon, password = os.environ.get(LOGIN_ENV, "").partition(":")
    if not (user and colon and password):
        raise WebUIError(
            f"--web-login needs the login to ask for in the environment: {LOGIN_ENV}="
            "user:password (not on the command line, where ps shows it)"
        )
    return user, password


def _add_login(web_ui: WebUI, user: str, password: str, base: str) -> None:
    app = web_ui.app
    assert app is not None
    app.config["SECRET_KEY"] = secrets.token_hex(32)  # sessions end with the process
    web_ui.login_manager.user_loader(lambda name: _Operator(name) if name == user else None)
    web_ui.auth_args = {"username_password_callback": f"{base}/mmload/login"}
    login = Blueprint("mmload_login", __name__, url_prefix=base or None)

    @login.route("/mmload/login", methods=["POST"])
    def submit() -> Redirect:
        given = (request.form.get("username", ""), request.form.get("password", ""))
        right = hmac.compare_digest(given[0].encode(), user.encode())
        right &= hmac.compare_digest(given[1].encode(), password.encode())
        if right:
            login_user(_Operator(user))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Wrong user name or password"
        return redirect(url_for("locust.login"))

    app.register_blueprint(login)
    log.info("mmload: the web UI asks for the login in %s", LOGIN_ENV)
