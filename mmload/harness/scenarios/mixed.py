"""mixed: a realistic Mattermost session, with mattermost-load-test-ng's weights: switch channel
6.5, scroll channel 2, unread check 1, create post 1 (API v4 only)."""

import json
import random
from typing import Any

from locust import between, task

from mmload.harness.scenarios import USES
from mmload.harness.stopping import stop_user
from mmload.harness.users import MattermostUser

POSTS = "GET /api/v4/channels/{channel_id}/posts"


def ids(resp: Any) -> list[str]:
    """The ids of a JSON list of objects in a 200 answer; none for anything else (another
    status, a body that is not JSON, or JSON of another shape)."""
    if resp.status_code != 200:
        return []
    try:
        listed = json.loads(resp.content or b"")
    except Exception:  # not JSON (a proxy's page, say), not UTF-8, or a body cut short
        return []
    if not isinstance(listed, list):
        return []
    return [str(o["id"]) for o in listed if isinstance(o, dict) and isinstance(o.get("id"), str)]


class Mixed(MattermostUser):
    scenario = "mixed"
    uses = USES["mixed"]
    wait_time = between(1, 3)

    def on_start(self) -> None:
        if self.settings.api != "v4":
            stop_user(self.environment, "no API v4", "the mixed scenario needs --api v4")
        super().on_start()
        teams = ids(self.call("GET", "/api/v4/users/me/teams"))
        channels = self.call(
            "GET",
            f"/api/v4/users/me/teams/{teams[0] if teams else ''}/channels",
            name="GET /api/v4/users/me/teams/{team_id}/channels",
        )
        self.channel_ids = ids(channels)
        if not self.channel_ids:
            why = f"no list of ids in the teams or channels answer (HTTP {channels.status_code})"
            stop_user(
                self.environment,
                "no channels",
                f"mixed found no channels for {self.account.login_id}: {why}",
            )
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
