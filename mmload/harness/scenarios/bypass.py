"""bypass: can the limit be dodged?  One user runs the audit of :mod:`mmload.harness.audit`
on ``GET /api/<v>/users/me`` (drain the bucket, then each evasion of :mod:`mmload.results.bypass`
between controls without it), sending each request as its vector says; then the login lockout:
failed logins for a disposable account, with the forwarding headers in turn and from each
``--source-ips`` address in turn.  Writes ``bypass.json`` into the run folder and ends the run.
Other users of the run stop at once: one audit per run."""

from __future__ import annotations

from typing import Any

import gevent
from locust import constant, task
from locust.exception import StopUser

from mmload import source_ips
from mmload.harness import audit, raw_http
from mmload.harness.scenarios import USES
from mmload.harness.state import state
from mmload.harness.users import MattermostUser
from mmload.results import bypass

LOCKOUT_PAUSE = 10.0  # seconds the lockout waits, at most, for the address's bucket to refill


class Bypass(MattermostUser):
    scenario = "bypass"
    uses = USES["bypass"]
    wait_time = constant(0)

    @task
    def audit(self) -> None:
        if self.global_number != 0:  # one audit per run
            raise StopUser()
        path = f"/api/{self.settings.api}/users/me"
        runner = self.environment.runner
        try:
            attempts = audit.run(
                self._send,
                path,
                self.settings.documented.burst or 0,
                self.settings.documented.per_sec,
                self.settings.limited_status,
            )
            lockout = self._lockout()  # last: it locks the account fresh logins use
            collector = state(self.environment).collector
            folder = getattr(getattr(collector, "folder", None), "path", None)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                bypass.write(folder, attempts, self.settings.documented.per_sec, lockout)
        finally:  # the audit is the run: end it, once, whatever happened
            if runner is not None:
                gevent.spawn(runner.quit)
        raise StopUser()  # at once: a task still running holds the end up by the stop timeout

    def _lockout(self) -> dict[str, object]:
        """Failed logins for this user's account (``LOCKOUT_AFTER`` and 5 more: every other one
        with a forwarding header, each header in turn; from each ``--source-ips`` address in
        turn), then one with the right password: refused when the server locks an account out.
        Sent as an attacker would (new clients, no cookie), once the address's bucket has had
        the time to refill (``LOCKOUT_PAUSE`` at most).  Only for an account the accounts file
        marks disposable."""
        account = getattr(self, "account", None)
        if account is None or not account.disposable:
            return {
                "why": "no disposable account (a 4th column 'disposable' in the accounts "
                "file: the audit locks it out)"
            }
        if self.settings.api != "v4":
            return {"why": "the login lockout is audited on API v4 logins only"}
        documented = self.settings.documented
        gevent.sleep(min(LOCKOUT_PAUSE, ((documented.burst or 0) + 1) / documented.per_sec))
        wrong = account.password + "-not"
        given = self.settings.source_ips
        sources = (source_ips.parse(given) if given else ()) or (self.source,)
        failed = []
        for n in range(bypass.LOCKOUT_AFTER + 5):
            headers = bypass.forwarding(n // 2, 1000 + n) if n % 2 else {}
            source = sources[n % len(sources)]
            failed.append(self._try_login(account.login_id, wrong, headers, source)[0])
        then, error_id = self._try_login(account.login_id, account.password, {}, sources[0])
        return {"failed": failed, "then": then, "then_id": error_id, "addresses": len(sources)}

    def _try_login(
        self, login_id: str, password: str, headers: dict[str, str], source: str
    ) -> tuple[int, str]:
        """(status, Mattermost error id or "") of one v4 login from ``source``, as a new
        client; recorded, but never a failure."""
        path, body = "/api/v4/users/login", {"login_id": login_id, "password": password}
        name = "POST /api/v4/users/login"  # a login, as the run counts logins
        answer = raw_http.send(
            self,
            "POST",
            path,
            name,
            headers,
            body=body,
            source=source,
            auth=False,
            context=self.context_of(None),
            failure=False,
        )
        return answer.status_code, _error_id(answer)

    def _send(self, request: bypass.Request) -> int:
        """One request of the audit, sent as it says; its status, 0 when none came back."""
        name = request.name(f"/api/{self.settings.api}/users/me")
        if request.how == "fresh-login":  # as a new client: its own login, no cookie
            status, token = self._fresh_token()
            if not token:  # refused, or failed: the evasion could not be sent
                return status if status in self.settings.limited_status else 0
            headers = {**request.headers, "Authorization": f"Bearer {token}"}
            return self._raw(request, name, headers, context=self.context_of(token)).status_code
        if request.how == "http/1.0":
            return self._raw(request, name, request.headers, http10=True).status_code
        try:
            resp = self.call(request.method, request.path, name=name, headers=request.headers)
        except ValueError:  # geventhttpclient refuses some targets before sending
            return 0
        return int(resp.status_code or 0)

    def _raw(
        self,
        request: bypass.Request,
        name: str,
        headers: dict[str, str],
        http10: bool = False,
        context: dict[str, Any] | None = None,
    ) -> raw_http.Answer:
        method, path, source = request.method, request.path, self.source
        return raw_http.send(
            self, method, path, name, headers, http10=http10, source=source, context=context
        )

    def _fresh_token(self) -> tuple[int, str]:
        """One login of the run's account as a new client would make it (no cookie of an
        earlier session: Mattermost would key it on that session's token), not retried:
        (status, its token or "")."""
        path, body = self.login_request(self.account)
        answer = raw_http.send(
            self,
            "POST",
            path,
            f"POST {path}",
            {},
            body=body,
            source=self.source,
            auth=False,
            context=self.context_of(None),
            failure=False,
        )
        token = answer.headers.get("Token") if answer.headers is not None else None
        return answer.status_code, str(token or "")


def _error_id(resp: object) -> str:
    """A Mattermost error's id ("" for a success or another body)."""
    if int(getattr(resp, "status_code", 0) or 0) < 400:
        return ""
    try:
        return str(resp.json().get("id", ""))  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        return ""
