"""probe: what ``hammer`` finds out, gently enough for a production server.

One burst of the documented burst plus a few requests, all at once from a fresh bucket (the
users share it out), then an offered rate a little above the documented one: 1.1x, 1.25x and
1.5x, ``--step-time`` seconds each (default: the rest of the run in three).  A correct server
accepts its burst and then its rate; the probe sends at most about twice that, where a hammer
sends thousands of times more."""

from locust import task

from mmload.harness.pacing import LOGIN_PHASE, steps
from mmload.harness.scenarios import USES
from mmload.harness.users import PacedUser

FACTORS = (1.1, 1.25, 1.5)
EXTRA = 5  # requests beyond the documented burst: enough to see where it ends
BURST_PHASE = 1.0  # seconds between the burst and the stepped rate
DEFAULT_STEP_SECONDS = 10.0


def burst_share(total: int, users: int, number: int) -> int:
    """This user's part of a burst of ``total`` requests shared out among ``users``."""
    base, extra = divmod(total, max(1, users))
    return base + (1 if number % max(1, users) < extra else 0)


class Probe(PacedUser):
    scenario = "probe"
    uses = USES["probe"]

    def on_start(self) -> None:
        step = self.settings.step_time
        run_time = getattr(self.environment.parsed_options, "run_time", None)
        if not step:
            rest = (run_time or 0) - LOGIN_PHASE - BURST_PHASE
            step = rest / len(FACTORS) if rest > 0 else DEFAULT_STEP_SECONDS
        self.step = step
        self.probe = steps(step, FACTORS)
        super().on_start()

    def before_pacing(self) -> None:
        documented = self.settings.documented
        total = (documented.capacity or 1) + EXTRA
        for _ in range(burst_share(total, self.total_users(), self.global_number)):
            self.me()

    def pacing_delay(self) -> float:
        return BURST_PHASE

    def step_seconds(self) -> float:
        return self.step

    def factor_at(self, t: float) -> float:
        return self.probe(t)

    @task
    def me(self) -> None:
        self.call("GET", f"/api/{self.settings.api}/users/me")
