"""ramp: the offered rate steps through 0.5x, 1x, 1.5x, 2x and 4x the documented limit,
``--step-time`` seconds each (default: what the run has after its login phase, divided by
five)."""

from locust import task

from mmload.harness.scenarios import USES
from mmload.harness.users import SteppedUser


class Ramp(SteppedUser):
    scenario = "ramp"
    uses = USES["ramp"]
    factors = (0.5, 1.0, 1.5, 2.0, 4.0)

    @task
    def me(self) -> None:
        self.call("GET", f"/api/{self.settings.api}/users/me")
