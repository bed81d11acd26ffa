"""mixed: a realistic Mattermost session, with mattermost-load-test-ng's weights: switch channel
6.5, scroll channel 2, unread check 1, create post 1 (API v4 only)."""

import logging
import random

from locust import between, task
from locust.exception import StopUser

from mmload.harness.scenarios import USES
from mmload.harness.users import MattermostUser

log = logging.getLogger("mmload")
POSTS = "GET /api/v4/channels/{channel_id}/posts"


class Mixed(MattermostUser):
    scenario = "mixed"
    uses = USES["mixed"]
    wait_time = between(1, 3)

    def on_start(self) -> None:
        if self.settings.api != "v4":
            log.error("mmload: the mixed scenario needs --api v4")
            raise StopUser()
        super().on_start()
        teams = self.call("GET", "/api/v4/users/me/teams")
        team_id = teams.json()[0]["id"] if teams.status_code == 200 and teams.json() else ""
        channels = self.call(
            "GET",
            f"/api/v4/users/me/teams/{team_id}/channels",
            name="GET /api/v4/users/me/teams/{team_id}/channels",
        )
        ok = channels.status_code == 200
        self.channel_ids = [c["id"] for c in channels.json()] if ok else []
        if not self.channel_ids:
            log.error("mmload: mixed found no channels for %s", self.account.login_id)
            raise StopUser()
        self.channel = self.channel_ids[0]

    @task(13)
    def switch_channel(self) -> None:
        previous, self.channel = self.channel, random.choice(self.channel_ids)
        body = {"channel_id": self.channel, "prev_channel_id": previous}
        self.call("POST", "/api/v4/channels/members/me/view", json=body)
        self.call("GET", f"/api/v4/channels/{self.channel}/posts?page=0&per_page=60", name=POSTS)

    @task(4)
    def scroll_channel(self) -> None:
        page = random.randint(1, 3)
        path = f"/api/v4/channels/{self.channel}/posts?page={page}&per_page=60"
        self.call("GET", path, name=POSTS + " (scroll)")

    @task(2)
    def unread_check(self) -> None:
        self.call("GET", "/api/v4/users/me/teams")

    @task(2)
    def create_post(self) -> None:
        body = {
            "channel_id": self.channel,
            "message": f"mmload says hello #{random.randint(1, 10**6)}",
        }
        self.call("POST", "/api/v4/posts", json=body)
