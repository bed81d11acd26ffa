"""hammer: no wait at all, far above any limit, on an authenticated endpoint."""

from locust import constant, task

from mmload.harness.scenarios import USES
from mmload.harness.users import MattermostUser


class Hammer(MattermostUser):
    scenario = "hammer"
    uses = USES["hammer"]
    wait_time = constant(0)

    @task
    def me(self) -> None:
        self.call("GET", f"/api/{self.settings.api}/users/me")
