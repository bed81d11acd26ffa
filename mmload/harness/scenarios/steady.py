"""steady: a total offered rate of ``--rate-factor`` (default 0.5) times the documented limit,
spread evenly over the users.  A correct server sends no 429."""

from locust import task

from mmload.harness.scenarios import USES
from mmload.harness.users import PacedUser


class Steady(PacedUser):
    scenario = "steady"
    uses = USES["steady"]
    default_factor = 0.5

    @task
    def me(self) -> None:
        self.call("GET", f"/api/{self.settings.api}/users/me")
