"""webhook: unauthenticated posts to an incoming webhook, as integrations send them, at
``--rate-factor`` (default 2) times the documented limit.  Needs ``--hook-id``."""

import logging

from locust import task
from locust.exception import StopUser

from mmload.harness.scenarios import USES
from mmload.harness.users import PacedUser

log = logging.getLogger("mmload")


class Webhook(PacedUser):
    scenario = "webhook"
    uses = USES["webhook"]
    authenticated = False
    default_factor = 2.0

    def on_start(self) -> None:
        if not self.settings.hook_id:
            log.error("mmload: the webhook scenario needs --hook-id (mmload serve lists its hooks)")
            raise StopUser()
        self.hook_path = f"/hooks/{self.settings.hook_id}"
        super().on_start()

    @task
    def post(self) -> None:
        text = f"mmload webhook post from user {self.number}"
        self.call("POST", self.hook_path, name="POST /hooks/{hook_id}", json={"text": text})
