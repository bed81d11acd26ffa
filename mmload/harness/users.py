"""Locust users that log in once per account and send ``Authorization: Bearer`` ever after.

Tokens are shared by every user of the same account in a process: an account logs in again only
when its token is rejected (401), and a second failure stops that user with a clear error.
429s are *limited*, not failures: they get their own row in Locust's stats and never trip
``--exit-code-on-error``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent.lock import Semaphore
from locust import FastHttpUser
from locust.exception import StopUser

from mmload.harness import accounts, plugin
from mmload.harness.collector import LIMITED_SUFFIX
from mmload.harness.headers import number
from mmload.harness.options import Settings
from mmload.harness.pacing import Pacer, load_start

log = logging.getLogger("mmload")

LOGIN_PATIENCE = 60.0  # a rate-limited login waits Retry-After and tries again, this long
MAX_RETRY_WAIT = 30.0


def key_hash(kind: str, secret: str) -> str:
    """What records call a rate-limit key: never the token itself."""
    return kind + ":" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def source_address(host: str) -> str:
    """The local address this process reaches ``host`` from (a UDP connect sends nothing)."""
    parts = urlsplit(host)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((parts.hostname or "127.0.0.1", parts.port or 80))
            return str(s.getsockname()[0])
    except OSError:
        return "unknown"


class LoginFailed(Exception):
    pass


class Tokens:
    """One token per account per process; concurrent users of one account wait for one login."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.locks: dict[str, Semaphore] = {}

    def get(self, account: accounts.Account, login: Any, stale: str | None = None) -> str:
        lock = self.locks.setdefault(account.login_id, Semaphore())
        with lock:
            token = self.tokens.get(account.login_id)
            if token is None or token == stale:
                token = self.tokens[account.login_id] = login(account)
            return token


class MattermostUser(FastHttpUser):
    abstract = True
    scenario = "custom"
    authenticated = True

    _tokens = Tokens()
    _accounts: list[accounts.Account] | None = None
    _numbers = itertools.count()
    _address_key = ""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.settings = Settings.from_options(environment.parsed_options)
        self.number = next(MattermostUser._numbers)
        if not MattermostUser._address_key:
            MattermostUser._address_key = key_hash("addr", source_address(self.host or ""))
        self.rl_key = MattermostUser._address_key
        self.token: str | None = None
        self.auth: dict[str, str] = {}

    # Locust hooks
    def context(self) -> dict[str, Any]:
        return {"mmload_key": self.rl_key}

    def on_start(self) -> None:
        if self.authenticated:
            self.account = self._account_list()[self.number % len(self._account_list())]
            self._use(self._token())
        gevent.sleep(max(0.0, load_start(self.environment) - time.time()))

    # requests
    def call(self, method: str, path: str, name: str | None = None, **kwargs: Any) -> Any:
        """One request; 429 counted as limited, 401 re-logs in once, other errors are failures."""
        name = name or f"{method} {path}"
        rejected = False
        with self.client.request(
            method, path, name=name, headers=self.auth, catch_response=True, **kwargs
        ) as resp:
            if resp.status_code == 429:
                resp.request_meta["name"] = name + LIMITED_SUFFIX
                resp.success()
            elif resp.status_code == 401 and self.authenticated and self.token:
                resp.failure("401: token rejected")
                rejected = True
        if rejected:  # log in once more; a second failure stops this user
            self._use(self._token(stale=self.token))
        return resp

    def retry_after(self, resp: Any) -> float | None:
        headers = getattr(resp, "headers", None)
        raw = headers.get("Retry-After") if headers is not None else None
        value = number(raw) if raw is not None else None
        return None if value is None else min(max(value, 0.0), MAX_RETRY_WAIT)

    # login
    def _account_list(self) -> list[accounts.Account]:
        cls = MattermostUser
        if cls._accounts is None:
            try:
                cls._accounts = accounts.resolve(self.settings.accounts, self.settings.password)
            except accounts.AccountsError as exc:
                log.error("mmload: %s", exc)
                raise StopUser() from None
        return cls._accounts

    def _token(self, stale: str | None = None) -> str:
        try:
            return self._tokens.get(self.account, self._login, stale)
        except LoginFailed as exc:
            log.error("mmload: %s", exc)
            raise StopUser() from None

    def _use(self, token: str) -> None:
        self.token = token
        self.auth = {"Authorization": f"Bearer {token}"}
        if self.settings.vary_by == "user":
            self.rl_key = key_hash("token", token)

    def _login(self, account: accounts.Account) -> str:
        if self.settings.api == "v1":
            path = "/api/v1/users/login"
            body = {"name": account.team, "email": account.login_id, "password": account.password}
        else:
            path = "/api/v4/users/login"
            body = {"login_id": account.login_id, "password": account.password}
        name = f"POST {path}"
        give_up = time.time() + LOGIN_PATIENCE
        while time.time() < give_up:
            with self.client.request(
                "POST", path, name=name, json=body, catch_response=True
            ) as resp:
                token = resp.headers.get("Token") if resp.headers is not None else None
                if resp.status_code == 200 and token:
                    return str(token)
                if resp.status_code == 429:
                    resp.request_meta["name"] = name + LIMITED_SUFFIX
                    resp.success()
                    gevent.sleep(self.retry_after(resp) or 1.0)
                    continue
                why = f"HTTP {resp.status_code}" if resp.status_code else str(resp.error)
                resp.failure(f"login failed: {why}")
                raise LoginFailed(f"login as {account.login_id} to {self.host} failed: {why}")
        raise LoginFailed(f"login as {account.login_id} was rate-limited for {LOGIN_PATIENCE:g} s")


class PacedUser(MattermostUser):
    """Sends on an absolute schedule so the *total* offered rate is ``factor x documented``."""

    abstract = True
    default_factor = 1.0

    def step_seconds(self) -> float:
        return math.inf  # a constant rate

    def factor_at(self, t: float) -> float:
        factor = self.settings.rate_factor
        return self.default_factor if factor is None else factor

    def total_users(self) -> int:
        options = vars(self.environment.parsed_options or object())
        return int(options.get("mmload_users") or options.get("num_users") or 1)

    def user_rate(self, t: float) -> float:
        return max(self.factor_at(t) * self.settings.documented.per_sec / self.total_users(), 1e-3)

    def on_start(self) -> None:
        super().on_start()
        runner = self.environment.runner
        workers = getattr(runner, "worker_count", 1) or 1
        index = getattr(runner, "worker_index", 0) or 0
        users = self.total_users()
        slot = ((self.number * workers + index) % users) / users
        start = load_start(self.environment)
        self.pacer = Pacer(self.user_rate, start, slot, step_seconds=self.step_seconds())
        gevent.sleep(self.pacer.first_delay())

    def wait_time(self) -> float:
        return self.pacer.next_delay()


plugin.install()
