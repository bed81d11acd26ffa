"""probe: what ``hammer`` finds out, gently enough for a production server.

One burst of the documented burst plus a few requests, all at once from a fresh bucket (the
users share it out), then an offered rate a little above the documented one: 1.1x, 1.25x and
1.5x, ``--step-time`` seconds each (default: the rest of the run in three).  A correct server
accepts its burst and then its rate; the probe sends at most about twice that, where a hammer
sends thousands of times more."""

from locust import task

from mmload.harness.scenarios import USES
from mmload.harness.users import SteppedUser

EXTRA = 5  # requests beyond the documented burst: enough to see where it ends


def burst_share(total: int, users: int, number: int) -> int:
    """This user's part of a burst of ``total`` requests shared out among ``users``."""
    base, extra = divmod(total, max(1, users))
    return base + (1 if number % max(1, users) < extra else 0)


class Probe(SteppedUser):
    scenario = "probe"
    uses = USES["probe"]
    factors = (1.1, 1.25, 1.5)
    lead = 1.0  # seconds between the burst and the stepped rate

    def before_pacing(self) -> None:
        documented = self.settings.documented
        total = (documented.capacity or 1) + EXTRA
        for _ in range(burst_share(total, self.total_users(), self.global_number)):
            self.me()

    @task
    def me(self) -> None:
        self.call("GET", f"/api/{self.settings.api}/users/me")
