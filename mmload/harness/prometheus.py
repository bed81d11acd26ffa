"""Prometheus metrics of a run (:mod:`mmload.results.metrics`), served by the process that has
the merged totals (the master, or a run's only process): at ``/mmload/metrics`` on Locust's web
UI (behind ``--web-login`` when on) and, headless or not, on ``--prometheus-port`` (bound to
``--prometheus-host``, 127.0.0.1 unless told).  The counters are the run's exact totals, the
same ``run.json`` ends with; ``--prometheus-linger`` keeps the port answering that long after
the run ended, so that a scrape sees the final numbers."""

from __future__ import annotations

import time

import gevent
from flask import Blueprint, Response
from gevent.pywsgi import WSGIServer
from locust.env import Environment
from prometheus_client import generate_latest, make_wsgi_app

from mmload.harness.collector import Collector, MasterCollector
from mmload.options import PROMETHEUS_HOST, Settings, listen_refusal
from mmload.results import metrics
from mmload.results.live import Live

PATH = "/mmload/metrics"


class PrometheusError(RuntimeError):
    """The port cannot be listened on: the message says why."""


def register(
    environment: Environment, collector: Collector, live: Live | None = None
) -> WSGIServer | None:
    """Serve the run's metrics where asked; the headless server, if any, is returned (it stops
    ``--prometheus-linger`` seconds after the run ended).  Workers serve nothing: their
    numbers reach the master's."""
    parsed = environment.parsed_options
    port = getattr(parsed, "prometheus_port", None)
    if not isinstance(collector, MasterCollector):  # a worker's numbers reach the master's
        return None
    if port is None and environment.web_ui is None:
        return None
    settings = Settings.from_options(parsed)
    if live is None:  # the web UI's view, when there is one: fed once, shown twice
        live = Live(settings.documented, limited=settings.limited_status)
        collector.viewers.append(live.add)
    registry = metrics.registry(
        lambda: (collector.folder.tally, live, settings.documented, time.time())
    )
    if environment.web_ui is not None:
        web_ui = environment.web_ui
        base = getattr(parsed, "web_base_path", "") or ""
        pages = Blueprint("mmload_metrics", __name__, url_prefix=base or None)

        @pages.route(PATH)
        @web_ui.auth_required_if_enabled
        def scrape() -> Response:
            return Response(generate_latest(registry), content_type=metrics.CONTENT_TYPE)

        assert web_ui.app is not None
        web_ui.app.register_blueprint(pages)
    if port is None:
        return None
    host = getattr(parsed, "prometheus_host", None) or PROMETHEUS_HOST
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None, error_log=None)
    try:
        server.start()
    except OSError as exc:
        raise PrometheusError(listen_refusal("--prometheus-port", host, port, exc)) from None
    linger = float(getattr(parsed, "prometheus_linger", 0.0) or 0.0)

    def stop() -> None:  # once the run folder has its final totals (and the verdict)
        if linger > 0:
            gevent.sleep(linger)
        server.stop(timeout=1)

    collector.after_finish.append(stop)
    return server
