"""polite: as fast as allowed, but a refusal (a 429, or a status ``--limited-status`` names) makes
the client wait its Retry-After (1 s if absent)."""

import gevent
from locust import constant, task

from mmload.harness.scenarios import USES
from mmload.harness.users import MattermostUser


class Polite(MattermostUser):
    scenario = "polite"
    uses = USES["polite"]
    wait_time = constant(0)

    @task
    def me(self) -> None:
        resp = self.call("GET", f"/api/{self.settings.api}/users/me")
        if self.limited(resp):
            gevent.sleep(self.retry_after(resp) or 1.0)
