"""bypass: can the limit be dodged?  One user drains its bucket on ``GET /api/<v>/users/me``,
then tries each evasion of :mod:`mmload.results.bypass` in turn (a few requests each, between
two controls without it), writes ``bypass.json`` into the run folder and ends the run.  Bounded:
the drain stops at the documented burst plus 50, and the audit adds 11 requests per vector.
Other users of the run stay idle: one audit per run."""

from __future__ import annotations

import time

import gevent
from locust import constant, task

from mmload.harness.scenarios import USES
from mmload.harness.state import state
from mmload.harness.users import MattermostUser
from mmload.results import bypass

DRAIN_EXTRA = 50  # requests beyond the documented burst the drain may send
REFUSED_IN_A_ROW = 5  # the drain is over: this many refusals one after the other


class Bypass(MattermostUser):
    scenario = "bypass"
    uses = USES["bypass"]
    wait_time = constant(0)

    @task
    def audit(self) -> None:
        if self.global_number != 0:  # one audit per run
            gevent.sleep(3600)
            return
        path = f"/api/{self.settings.api}/users/me"
        runner = self.environment.runner
        try:
            lockout = self._lockout()  # first: the bucket is full, the token already held
            self._drain(path)
            attempts = [self._try(v, path, n) for n, v in enumerate(bypass.VECTORS)]
            collector = state(self.environment).collector
            folder = getattr(getattr(collector, "folder", None), "path", None)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                bypass.write(folder, attempts, self.settings.documented.per_sec, lockout)
        finally:  # the audit is the run: end it, once, whatever happened
            if runner is not None:
                gevent.spawn(runner.quit)
        gevent.sleep(3600)

    def _lockout(self) -> dict[str, object]:
        """Failed logins for this user's account (``LOCKOUT_AFTER`` and 5 more, every other one
        with a forwarding header), then one with the right password: refused when the server
        locks an account out.  Only for an account the accounts file marks disposable."""
        account = getattr(self, "account", None)
        if account is None or not account.disposable:
            return {
                "why": "no disposable account (a 4th column 'disposable' in the accounts "
                "file: the audit locks it out)"
            }
        if self.settings.api != "v4":
            return {"why": "the login lockout is audited on API v4 logins only"}
        path, wrong = "/api/v4/users/login", account.password + "-not"
        failed = []
        for n in range(bypass.LOCKOUT_AFTER + 5):
            headers = {"X-Forwarded-For": bypass.spoofed(1000 + n)} if n % 2 else {}
            failed.append(self._try_login(path, account.login_id, wrong, headers)[0])
        then, error_id = self._try_login(path, account.login_id, account.password, {})
        return {"failed": failed, "then": then, "then_id": error_id}

    def _try_login(
        self, path: str, login_id: str, password: str, headers: dict[str, str]
    ) -> tuple[int, str]:
        """(status, Mattermost error id or "") of one login, recorded but never a failure."""
        body = {"login_id": login_id, "password": password}
        name = "POST /api/v4/users/login"  # a login, as the run counts logins
        with self.client.post(
            path, json=body, headers=headers, name=name, catch_response=True
        ) as resp:
            status = int(resp.status_code or 0)
            try:
                error_id = str(resp.json().get("id", "")) if status >= 400 else ""
            except (ValueError, AttributeError):
                error_id = ""
            resp.success()
        return status, error_id

    def _status(self, method: str, path: str, name: str, headers: dict[str, str]) -> int:
        """The answer's status; 0 when the client could not send it (a spelling it refuses)."""
        try:
            resp = self.call(method, path, name=name, headers=headers)
        except ValueError:  # geventhttpclient refuses some targets before sending
            return 0
        return int(resp.status_code or 0)

    def _drain(self, path: str) -> None:
        burst = self.settings.documented.burst or 0
        in_a_row = 0
        for _ in range(burst + 1 + DRAIN_EXTRA):
            refused = self.limited(self.call("GET", path))
            in_a_row = in_a_row + 1 if refused else 0
            if in_a_row >= REFUSED_IN_A_ROW:
                return

    def _controls(self, path: str) -> list[int]:
        return [self._status("GET", path, f"GET {path}", {}) for _ in range(bypass.CONTROLS)]

    def _try(self, vector: bypass.Vector, path: str, n: int) -> bypass.Attempt:
        started = time.monotonic()
        before = self._controls(path)
        statuses, detail = [], ""
        for k in range(bypass.EVASIONS):
            method, sent, headers = bypass.evasion(vector, path, n * bypass.EVASIONS + k)
            detail = detail or " ".join([method, sent, *(f"{h}: {v}" for h, v in headers.items())])
            statuses.append(self._status(method, sent, f"{method} {path} [{vector.name}]", headers))
        after = self._controls(path)
        return bypass.Attempt(
            vector.name, before, statuses, after, round(time.monotonic() - started, 4), detail
        )
