"""The reference server's data: seeded users, one team, its channels, posts, hooks and sessions."""

from __future__ import annotations

import hmac
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmload.server.ids import derived_id, new_id
from mmload.server.sessions import ClusterSessions, Sessions

TEAM_NAME = "mmload"
CHANNEL_NAMES = ("town-square", "off-topic", "load-test-1", "load-test-2")
POSTS_KEPT_PER_CHANNEL = 1000
CLUSTER_CREATED_MS = 1_700_000_000_000  # a cluster's seeded data: one creation time on every node


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class User:
    id: str
    username: str
    email: str
    password: str
    json: bytes = b""

    def as_dict(self, created: int) -> dict[str, Any]:
        return {
            "id": self.id, "create_at": created, "update_at": created, "delete_at": 0,
            "username": self.username, "email": self.email, "email_verified": True,
            "nickname": "", "first_name": "", "last_name": "", "position": "",
            "roles": "system_user", "locale": "en", "auth_service": "",
        }  # fmt: skip


@dataclass
class Channel:
    id: str
    name: str
    team_id: str
    posts: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=POSTS_KEPT_PER_CHANNEL)
    )

    def as_dict(self, created: int) -> dict[str, Any]:
        return {
            "id": self.id, "create_at": created, "update_at": created, "delete_at": 0,
            "team_id": self.team_id, "type": "O", "display_name": self.name.title(),
            "name": self.name, "header": "", "purpose": "", "creator_id": "",
        }  # fmt: skip


class AccountLocked(Exception):
    """Too many failed logins in a row (Mattermost's MaximumLoginAttempts)."""


class World:
    """Everything the API reads and writes, seeded with ``user1..userN`` sharing one password.

    With a ``cluster_secret``, every seeded id (team, users, channels, hooks) is derived from it,
    and tokens carry their own proof (see :mod:`mmload.server.sessions`): nodes started with the
    same secret and accounts agree on every id and accept each other's tokens, as Mattermost's
    nodes do through their shared database.  What they create later (posts) stays on the node.
    """

    def __init__(
        self, accounts: int, password: str, cluster_secret: str = "", max_login_attempts: int = 0
    ) -> None:
        secret = cluster_secret.encode()
        self.cluster = bool(secret)  # a node of a cluster: its ids and tokens are shared
        seeded: Callable[[str], str] = (
            (lambda label: derived_id(secret, label)) if secret else (lambda _label: new_id())
        )
        created = CLUSTER_CREATED_MS if secret else now_ms()
        self.team_id = team_id = seeded("team")
        self.team = {
            "id": team_id, "create_at": created, "update_at": created, "delete_at": 0,
            "display_name": "mmload", "name": TEAM_NAME, "type": "O", "email": "",
        }  # fmt: skip
        self.team_json = json.dumps([self.team]).encode()
        self.users: dict[str, User] = {}
        self.by_login: dict[str, User] = {}
        self.number: dict[str, int] = {}  # user id -> its place among the seeded, from 0
        for k in range(1, accounts + 1):
            user = User(seeded(f"user:{k}"), f"user{k}", f"user{k}@example.com", password)
            user.json = json.dumps(user.as_dict(created)).encode()
            self.users[user.id] = user
            self.by_login[user.username] = self.by_login[user.email] = user
            self.number[user.id] = k - 1
        self.channels: dict[str, Channel] = {}
        for name in CHANNEL_NAMES:
            channel = Channel(seeded(f"channel:{name}"), name, team_id)
            self.channels[channel.id] = channel
        self.channels_json = json.dumps(
            [c.as_dict(created) for c in self.channels.values()]
        ).encode()
        self.hooks = {seeded(f"hook:{c.name}"): c for c in self.channels.values()}
        self.sessions: Sessions[User] = (
            ClusterSessions(secret, list(self.users.values())) if secret else Sessions()
        )
        self.logins: dict[str, int] = {}
        # Mattermost's ServiceSettings.MaximumLoginAttempts (0: off): an account with that many
        # failed logins in a row is locked, whatever password comes next
        self.max_login_attempts = max_login_attempts
        self.failed_attempts: dict[str, int] = {}  # user id -> failed logins in a row

    # sessions
    def login(self, login_id: str, password: str) -> tuple[User, str] | None:
        """The user and a new token; None for a wrong login or password; AccountLocked once the
        account had ``max_login_attempts`` failed logins in a row (as Mattermost checks it:
        before the password, so the right one is refused too)."""
        user = self.by_login.get(login_id)
        if user is None:
            return None
        failed = self.failed_attempts.get(user.id, 0)
        if self.max_login_attempts and failed >= self.max_login_attempts:
            raise AccountLocked(user.username)
        if not hmac.compare_digest(user.password.encode(), password.encode()):
            self.failed_attempts[user.id] = failed + 1
            return None
        self.failed_attempts.pop(user.id, None)
        token = self.sessions.issue(user, self.number[user.id])
        self.logins[user.username] = self.logins.get(user.username, 0) + 1
        return user, token

    def logout(self, token: str) -> None:
        self.sessions.revoke(token)

    def user_for(self, token: str | None) -> User | None:
        return self.sessions.user_for(token) if token else None

    # channels and posts
    def channel_by_name(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def add_post(
        self, channel: Channel, user_id: str, message: str, props: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        at = now_ms()
        post = {
            "id": new_id(), "create_at": at, "update_at": at, "edit_at": 0, "delete_at": 0,
            "user_id": user_id, "channel_id": channel.id, "root_id": "", "message": message,
            "type": "", "props": props or {}, "hashtags": "", "pending_post_id": "",
        }  # fmt: skip
        channel.posts.append(post)
        return post
