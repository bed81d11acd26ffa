"""The parts of Locust (and of geventhttpclient, which its FastHttpUser runs on) that mmload
relies on beyond Locust's documented API, in one place.  ``missing()`` names any the installed
versions lack, and the plugin refuses to run then (a clear message instead of an
AttributeError halfway through a run); ``pyproject.toml`` bounds Locust below 3 for them.

- ``MasterRunner.register_message`` / ``WorkerRunner.send_message``: the collector's batches;
  ``MasterRunner.clients`` and ``worker_count``, ``WorkerRunner.client_id`` and
  ``worker_index``: which worker is which (pacing slots, lost workers).
- ``Environment.parsed_options`` travelling with the spawn message: what the master tells the
  workers (refusal statuses, offsets, the load's start).
- ``Environment.process_exit_code`` and ``stop_timeout``: the verdict's exit code, stopping.
- ``WebUI.app`` (Flask), ``auth_required_if_enabled``, ``template_args``
  (``extended_tabs``/``extended_stats``): the Rate limits tab and /mmload/metrics.
- geventhttpclient's ``HTTPClient._connection_pool._create_tcp_socket``: binding a user's
  connections to its source address (``--source-ips``), which geventhttpclient has no option for.
"""

from __future__ import annotations

import inspect

from geventhttpclient.connectionpool import ConnectionPool
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.web import WebUI

# (owner, attribute): an attribute of the class, or set on instances in its __init__
USED: tuple[tuple[type, str], ...] = (
    (MasterRunner, "register_message"),
    (MasterRunner, "clients"),
    (MasterRunner, "worker_count"),
    (WorkerRunner, "send_message"),
    (WorkerRunner, "client_id"),
    (WorkerRunner, "worker_index"),
    (Environment, "parsed_options"),
    (Environment, "process_exit_code"),
    (Environment, "stop_timeout"),
    (WebUI, "app"),
    (WebUI, "auth_required_if_enabled"),
    (WebUI, "template_args"),
    (ConnectionPool, "_create_tcp_socket"),
)


def missing() -> list[str]:
    """``Class.attribute`` for each part of ``USED`` the installed versions do not have."""
    found = []
    for owner, name in USED:
        if hasattr(owner, name):
            continue
        source = inspect.getsource(vars(owner).get("__init__") or (lambda: None))
        if f"self.{name} " in source or f"self.{name}:" in source:
            continue  # an instance attribute set in __init__
        found.append(f"{owner.__name__}.{name}")
    return found
