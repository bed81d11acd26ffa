"""Locust users that log in once per account and send ``Authorization: Bearer`` ever after.

Tokens are shared by every user of the same account in a process: an account logs in again only
when its token is rejected (401), at most ``MAX_RELOGINS`` times; past that, or when a login
fails, the user stops with a clear error.
Refusals (429, or the statuses ``--limited-status`` names: nginx's ``limit_req`` answers 503) are
*limited*, not failures: they get their own row in Locust's stats (``NAME [503 limited]``) and
never trip ``--exit-code-on-error``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import time
from typing import Any

import gevent
from gevent.lock import Semaphore
from locust import FastHttpUser
from locust.runners import WorkerRunner

from mmload import source_ips
from mmload.dialects.numbers import delay_or_date
from mmload.harness import accounts, plugin, source_binding, stopping
from mmload.harness.capture import IDENTITY, join_identity, limited_suffix
from mmload.harness.pacing import (
    Pacer,
    grid_slot,
    load_start,
    phase_slot,
    step_length,
    steps,
)
from mmload.harness.scenarios import USES
from mmload.harness.state import shared
from mmload.options import Settings
from mmload.results.record import is_limited

log = logging.getLogger("mmload")

LOGIN_PATIENCE = 60.0  # a rate-limited login waits Retry-After and tries again, this long
MAX_RETRY_WAIT = 30.0
MAX_RELOGINS = 3  # per account and process: a server that keeps rejecting tokens is not retried


def key_hash(kind: str, secret: str) -> str:
    """What records call a user, an address or a rate-limit key: never the token itself."""
    return kind + ":" + hashlib.sha256(secret.encode()).hexdigest()[:12]


SHARED_KEY = "all"  # --vary-by shared: every request is expected in the one bucket


def identity(source: str, user: str, settings: Settings) -> str:
    """Who sent a request, as the collector records it: the key the client expects the server
    to limit it by (``--vary-by``), its user (a hash of its token) and its source address."""
    if settings.vary_by == "shared":
        key = SHARED_KEY
    else:
        key = user if settings.vary_by == "user" and user else source
    return join_identity(key, user, source)


class LoginFailed(Exception):
    pass


def place_of(environment: Any, number: int, users: int) -> tuple[int, float]:
    """(this user's number among the users of all processes, its phase slot).

    In one process, the user's own number.  A worker adds the offset the master computed for
    it from Locust's own dispatch (sent with the spawn message's options: see
    ``plugin.worker_offsets``); without one, users get distinct places on a grid of workers."""
    told = shared(environment.parsed_options)
    runner = environment.runner
    offset, count = told.offsets.get(str(getattr(runner, "client_id", "")), (0, 0))
    if not isinstance(runner, WorkerRunner) or number < count:
        return offset + number, phase_slot(offset + number, users)
    workers = told.workers or 1
    index = max(0, int(getattr(runner, "worker_index", 0) or 0))
    return number * workers + index, grid_slot(number, index, workers, users)


class Tokens:
    """One token per account per process; concurrent users of one account wait for one login.

    ``stale`` is a token the server rejected: the first user to report it logs in again, the
    others get the new token; after ``max_relogins`` re-logins of one account, LoginFailed."""

    def __init__(self, max_relogins: int = MAX_RELOGINS) -> None:
        self.max_relogins = max_relogins
        self.tokens: dict[str, str] = {}
        self.locks: dict[str, Semaphore] = {}
        self.relogins: dict[str, int] = {}

    def get(self, account: accounts.Account, login: Any, stale: str | None = None) -> str:
        lock = self.locks.setdefault(account.login_id, Semaphore())
        with lock:
            token = self.tokens.get(account.login_id)
            if token is not None and token != stale:
                return token
            if token is not None:  # rejected: log in again, within the cap
                done = self.relogins.get(account.login_id, 0)
                if done >= self.max_relogins:
                    raise LoginFailed(
                        f"the token of {account.login_id} was rejected (401) again after "
                        f"{done} re-logins; giving up on this account (at most "
                        f"{self.max_relogins} re-logins per account)"
                    )
                self.relogins[account.login_id] = done + 1
            token = self.tokens[account.login_id] = login(account)
            return token


class MattermostUser(FastHttpUser):
    abstract = True
    scenario = "custom"
    authenticated = True
    uses: frozenset[str] = frozenset()  # the scenario-specific options this user acts on

    _tokens = Tokens()
    _accounts: list[accounts.Account] | None = None
    _numbers = itertools.count()
    _system_address = ""  # where this process sends from without --source-ips

    def __init__(self, environment: Any) -> None:
        self.settings = Settings.from_options(environment.parsed_options)
        # each wait (connecting, each next part of an answer; not the total) is bounded by the
        # run's timeout, and the timeline's grace period follows it
        self.network_timeout = self.connection_timeout = self.settings.request_timeout
        super().__init__(environment)
        self.number = next(MattermostUser._numbers)  # this process's users: 0, 1, 2, ...
        self.global_number, self.slot = place_of(environment, self.number, self.total_users())
        self.source = self.settings.source_of(self.global_number)  # --source-ips, in turn
        if self.source:
            source_binding.bind(self.client, self.source)
        elif not MattermostUser._system_address:
            MattermostUser._system_address = source_ips.system_address(self.host or "")
        self.address_key = key_hash("addr", self.source or MattermostUser._system_address)
        self.token: str | None = None
        self.auth: dict[str, str] = {}
        self._context = {IDENTITY: identity(self.address_key, "", self.settings)}

    def total_users(self) -> int:
        """Users of the whole run, across workers."""
        options = self.environment.parsed_options
        return shared(options).users or int(getattr(options, "num_users", None) or 1)

    # Locust hooks
    def context(self) -> dict[str, Any]:
        return self._context

    def on_start(self) -> None:
        why = source_ips.unavailable(self.source) if self.source else ""
        if why:  # a worker on another machine than the master that checked --source-ips
            stopping.stop_user(
                self.environment,
                "source address",
                f"cannot send from "
                f"{self.source} here ({why}): --source-ips must name addresses "
                "of every machine that runs workers",
            )
        if self.authenticated:
            listed = self._account_list()
            self.account = listed[self.global_number % len(listed)]
            self._use(self._token())
        gevent.sleep(max(0.0, load_start(self.environment) - time.time()))

    # requests
    def call(self, method: str, path: str, name: str | None = None, **kwargs: Any) -> Any:
        """One request; a refusal (``--limited-status``) counted as limited, other errors are
        failures; a 401 gets the account a new token (its first user to report it logs in
        again, within the cap)."""
        name = name or f"{method} {path}"
        rejected = False
        headers = {**self.auth, **(kwargs.pop("headers", None) or {})}  # the caller's win
        with stopping.request(self, method, path, name, headers=headers, **kwargs) as resp:
            if self.limited(resp):
                resp.request_meta["name"] = name + limited_suffix(resp.status_code)
                resp.success()
            elif resp.status_code == 401 and self.authenticated and self.token:
                resp.failure("401: token rejected")
                rejected = True
            elif resp.status_code >= 400:  # Locust's own text has the URL: a hook's secret id
                resp.failure(f"HTTP {resp.status_code}")
        if rejected:  # a failure, or a rejection past the cap, stops this user
            self._use(self._token(stale=self.token))
        return resp

    def limited(self, resp: Any) -> bool:
        """Whether the server refused the request: its status is one of the run's refusals."""
        return is_limited(resp.status_code, self.settings.limited_status)

    def retry_after(self, resp: Any) -> float | None:
        """The response's Retry-After in seconds (at most MAX_RETRY_WAIT), None if absent."""
        headers = getattr(resp, "headers", None)
        raw = headers.get("Retry-After") if headers is not None else None
        if raw is None:
            return None
        delay, at = delay_or_date(str(raw))
        value = delay if delay is not None else None if at is None else at - time.time()
        return None if value is None else min(max(float(value), 0.0), MAX_RETRY_WAIT)

    def _note(self, counter: str) -> None:
        stopping.note(self.environment, counter)

    # login
    def _account_list(self) -> list[accounts.Account]:
        cls = MattermostUser
        if cls._accounts is None:
            try:
                if not self.settings.accounts:
                    raise accounts.AccountsError(accounts.REQUIRED)
                cls._accounts = accounts.resolve(self.settings.accounts, self.settings.password)
            except accounts.AccountsError as exc:
                stopping.stop_user(self.environment, "no accounts", str(exc))
        return cls._accounts

    def _token(self, stale: str | None = None) -> str:
        login = self._login if stale is None else self._relogin
        try:
            return self._tokens.get(self.account, login, stale)
        except LoginFailed as exc:
            stopping.stop_user(self.environment, "login failed", str(exc))

    def _relogin(self, account: accounts.Account) -> str:
        """A re-login, counted once per login done (not per user that saw the 401)."""
        token = self._login(account)
        self._note("relogins")
        return token

    def _use(self, token: str) -> None:
        self.token = token
        self.auth = {"Authorization": f"Bearer {token}"}
        self._context = self.context_of(token)

    def context_of(self, token: str | None) -> dict[str, Any]:
        """The request context (who sent it) of a request of this user's with ``token``."""
        user = key_hash("token", token) if token else ""
        return {IDENTITY: identity(self.address_key, user, self.settings)}

    def login_request(self, account: accounts.Account) -> tuple[str, dict[str, str]]:
        """The login route and body of ``account`` on the run's API version."""
        if self.settings.api == "v1":
            body = {"name": account.team, "email": account.login_id, "password": account.password}
            return "/api/v1/users/login", body
        return "/api/v4/users/login", {"login_id": account.login_id, "password": account.password}

    def _login(self, account: accounts.Account) -> str:
        path, body = self.login_request(account)
        name = f"POST {path}"
        give_up = time.time() + LOGIN_PATIENCE
        while time.time() < give_up:
            with stopping.request(self, "POST", path, name, json=body) as resp:
                token = resp.headers.get("Token") if resp.headers is not None else None
                if resp.status_code == 200 and token:
                    return str(token)
                if not self.limited(resp):
                    why = _login_failure(resp)
                    resp.failure(f"login failed: {why}")
                    raise LoginFailed(f"login as {account.login_id} to {self.host} failed: {why}")
                resp.request_meta["name"] = name + limited_suffix(resp.status_code)
                resp.success()
            gevent.sleep(self.retry_after(resp) or 1.0)  # not in the block: it would time it
        raise LoginFailed(f"login as {account.login_id} was rate-limited for {LOGIN_PATIENCE:g} s")


def _login_failure(resp: Any) -> str:
    if resp.status_code == 200:  # Mattermost sends the session token in a Token header
        return "HTTP 200 without a Token header (the session token mmload needs)"
    return f"HTTP {resp.status_code}" if resp.status_code else str(resp.error)


class PacedUser(MattermostUser):
    """Sends on an absolute schedule so the *total* offered rate is ``factor x documented``."""

    abstract = True
    default_factor = 1.0
    uses = USES["steady"]

    def step_seconds(self) -> float:
        return math.inf  # a constant rate

    def factor_at(self, t: float) -> float:
        factor = self.settings.rate_factor
        return self.default_factor if factor is None else factor

    def user_rate(self, t: float) -> float:
        return max(self.factor_at(t) * self.settings.documented.per_sec / self.total_users(), 1e-3)

    def before_pacing(self) -> None:
        """What a scenario does between the load's start and its schedule (nothing here)."""

    def pacing_delay(self) -> float:
        """Seconds after the load's start that the schedule starts."""
        return 0.0

    def on_start(self) -> None:
        super().on_start()
        self.before_pacing()
        start = load_start(self.environment) + self.pacing_delay()
        self.pacer = Pacer(self.user_rate, start, self.slot, step_seconds=self.step_seconds())
        gevent.sleep(self.pacer.first_delay())

    def wait_time(self) -> float:
        return self.pacer.next_delay()


class SteppedUser(PacedUser):
    """Paced through ``factors`` of the documented rate, ``--step-time`` seconds each (default:
    what the run has left after its login phase and ``lead``, shared out among the steps)."""

    abstract = True
    uses = USES["ramp"]
    factors: tuple[float, ...] = (1.0,)
    lead = 0.0  # seconds of the load before the steps start

    def on_start(self) -> None:
        run_time = getattr(self.environment.parsed_options, "run_time", None)
        self.step = step_length(self.settings.step_time, run_time, self.lead, len(self.factors))
        self.stepped = steps(self.step, self.factors)
        super().on_start()

    def pacing_delay(self) -> float:
        return self.lead

    def step_seconds(self) -> float:
        return self.step

    def factor_at(self, t: float) -> float:
        return self.stepped(t)


class RateLimitedUser(MattermostUser):
    """A user of any HTTP API (no login): ``self.call(method, path, ...)`` sends a request whose
    refusals (``--limited-status``) count as limited, not failed, and the collector records it
    under a rate-limit key: ``rate_limit_key`` when the class sets one (an API key, say: only its
    hash is written), else the one ``--vary-by`` names (the source address by default)."""

    abstract = True
    authenticated = False
    rate_limit_key: str | None = None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if self.rate_limit_key is not None:
            key = key_hash("key", self.rate_limit_key)
            self._context = {IDENTITY: join_identity(key, "", self.address_key)}


plugin.install()
