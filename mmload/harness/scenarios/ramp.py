"""ramp: the offered rate steps through 0.5x, 1x, 1.5x, 2x and 4x the documented limit,
``--step-time`` seconds each (default: the run time divided by five)."""

from locust import task

from mmload.harness.pacing import LOGIN_PHASE, steps
from mmload.harness.scenarios import USES
from mmload.harness.users import PacedUser

FACTORS = (0.5, 1.0, 1.5, 2.0, 4.0)
DEFAULT_STEP_SECONDS = 10.0


class Ramp(PacedUser):
    scenario = "ramp"
    uses = USES["ramp"]

    def on_start(self) -> None:
        step = self.settings.step_time
        run_time = getattr(self.environment.parsed_options, "run_time", None)
        if not step:
            step = (run_time - LOGIN_PHASE) / len(FACTORS) if run_time else DEFAULT_STEP_SECONDS
        self.step = step
        self.ramp = steps(step, FACTORS)
        super().on_start()

    def step_seconds(self) -> float:
        return self.step

    def factor_at(self, t: float) -> float:
        return self.ramp(t)

    @task
    def me(self) -> None:
        self.call("GET", f"/api/{self.settings.api}/users/me")
