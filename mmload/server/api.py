"""The API handlers: Mattermost v4, the 2015 v1 login, and Slack-compatible incoming webhooks.

Each handler takes a :class:`Call` and returns a Response or raises an AppError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from mmload.server import errors
from mmload.server.auth import login_cookie
from mmload.server.http import Request, Response
from mmload.server.ids import is_id
from mmload.server.world import TEAM_NAME, AccountLocked, Channel, User, World, now_ms

OK = b'{"status":"OK"}'


@dataclass(slots=True)
class Call:
    request: Request
    world: World
    token: str | None
    params: tuple[str, ...]  # path parameters, in order

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, RecursionError) as exc:  # RecursionError: deeply nested arrays
            raise errors.bad_body(f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise errors.bad_body("body must be a JSON object")
        return body

    def user(self) -> User:
        user = self.world.user_for(self.token)
        if user is None:
            raise errors.unauthorized()
        return user

    def channel(self, channel_id: Any) -> Channel:
        if not isinstance(channel_id, str) or not is_id(channel_id):
            raise errors.missing("channel_id")
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise errors.forbidden(f"not a member of channel {channel_id}")
        return channel


def _text(body: dict[str, Any], *names: str) -> str:
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise errors.missing(name)
    return str(body[names[0]])


def _invalid_credentials() -> errors.AppError:
    return errors.AppError(
        401,
        "api.user.login.invalid_credentials_email_username",
        "Enter a valid email or username and/or password.",
    )


def _locked() -> errors.AppError:
    return errors.AppError(
        401,
        "api.user.check_user_login_attempts.too_many.app_error",
        "Your account is locked because of too many failed password attempts. Please reset "
        "your password.",
    )


def _login(call: Call, login_id: str, password: str) -> tuple[User, str] | None:
    try:
        return call.world.login(login_id, password)
    except AccountLocked:
        raise _locked() from None


def login_v4(call: Call) -> Response:
    body = call.json_body()
    login_id, password = _text(body, "login_id"), _text(body, "password")
    found = _login(call, login_id, password)
    if found is None:
        raise _invalid_credentials()
    user, token = found
    return Response(200, user.json, headers=[("Token", token), login_cookie("MMAUTHTOKEN", token)])


def logout(call: Call) -> Response:
    if call.token:
        call.world.logout(call.token)
    return Response(200, OK, headers=[("Set-Cookie", "MMAUTHTOKEN=; Path=/; Max-Age=0; HttpOnly")])


def me(call: Call) -> Response:
    return Response(200, call.user().json)


def my_teams(call: Call) -> Response:
    call.user()
    return Response(200, call.world.team_json)


def team_channels(call: Call) -> Response:
    user = call.user()
    user_id, team_id = call.params
    if user_id not in ("me", user.id):
        raise errors.forbidden(f"cannot list channels of user {user_id}")
    if team_id != call.world.team_id:
        raise errors.forbidden(f"not a member of team {team_id}")
    return Response(200, call.world.channels_json)


def channel_posts(call: Call) -> Response:
    call.user()
    channel = call.channel(call.params[0])
    query = call.request.query_params()
    try:
        page = max(0, int(query.get("page", 0)))
        per_page = min(200, max(1, int(query.get("per_page", 60))))
    except ValueError:
        raise errors.missing("page or per_page") from None
    newest = list(reversed(channel.posts))[page * per_page : (page + 1) * per_page]
    body = {
        "order": [p["id"] for p in newest],
        "posts": {p["id"]: p for p in newest},
        "next_post_id": "",
        "prev_post_id": "",
        "has_next": (page + 1) * per_page < len(channel.posts),
    }
    return Response(200, json.dumps(body).encode())


def create_post(call: Call) -> Response:
    user = call.user()
    body = call.json_body()
    channel = call.channel(body.get("channel_id"))
    message = body.get("message", "")
    if not isinstance(message, str):
        raise errors.missing("message")
    post = call.world.add_post(channel, user.id, message)
    return Response(201, json.dumps(post).encode())


def view_channel(call: Call) -> Response:
    call.user()
    channel = call.channel(call.json_body().get("channel_id"))
    body = {"status": "OK", "last_viewed_at_times": {channel.id: now_ms()}}
    return Response(200, json.dumps(body).encode())


def login_v1(call: Call) -> Response:
    body = call.json_body()
    team, email, password = _text(body, "name"), _text(body, "email"), _text(body, "password")
    found = _login(call, email, password) if team == TEAM_NAME else None
    if found is None:
        raise _invalid_credentials()
    user, token = found
    return Response(200, user.json, headers=[("Token", token), login_cookie("MMSID", token)])


def incoming_hook(call: Call) -> Response:
    channel = call.world.hooks.get(call.params[0])
    if channel is None:
        raise errors.AppError(
            400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.", call.params[0]
        )
    body = _hook_payload(call)
    text = body.get("text")
    if not isinstance(text, str) or not text:
        raise errors.AppError(400, "web.incoming_webhook.text.app_error", "No text specified.")
    if body.get("channel"):
        target = call.world.channel_by_name(str(body["channel"]).lstrip("#~"))
        if target is None:
            raise errors.AppError(
                400, "web.incoming_webhook.channel.app_error", "Couldn't find the channel."
            )
        channel = target
    props = {"from_webhook": "true", "override_username": str(body.get("username", ""))}
    call.world.add_post(channel, "", text, props)
    return Response(200, b"ok", "text/plain; charset=utf-8")


def _hook_payload(call: Call) -> dict[str, Any]:
    """A JSON body, or a form whose ``payload`` field holds the JSON (as Slack clients send)."""
    content_type = call.request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(call.request.body.decode("utf-8", "replace"))
        if "payload" not in form:
            raise errors.missing("payload")
        call.request.body = form["payload"][0].encode()
    return call.json_body()
