"""Route table: path templates to handlers per method, with 404 and 405 as Mattermost answers."""

from __future__ import annotations

from collections.abc import Callable

from mmload.server import api, errors
from mmload.server.http import Response

Handler = Callable[[api.Call], Response]

ROUTES: dict[str, dict[str, Handler]] = {
    "/api/v4/users/login": {"POST": api.login_v4},
    "/api/v4/users/logout": {"POST": api.logout},
    "/api/v4/users/me": {"GET": api.me},
    "/api/v4/users/me/teams": {"GET": api.my_teams},
    "/api/v4/users/{}/teams/{}/channels": {"GET": api.team_channels},
    "/api/v4/channels/{}/posts": {"GET": api.channel_posts},
    "/api/v4/posts": {"POST": api.create_post},
    "/api/v4/channels/members/me/view": {"POST": api.view_channel},
    "/api/v1/users/login": {"POST": api.login_v1},
    "/api/v1/users/me": {"GET": api.me},
    "/hooks/{}": {"POST": api.incoming_hook},
}

_EXACT = {path: methods for path, methods in ROUTES.items() if "{}" not in path}
_TEMPLATES = [
    (tuple(path.strip("/").split("/")), methods) for path, methods in ROUTES.items() if "{}" in path
]


def _match(path: str) -> tuple[dict[str, Handler], tuple[str, ...]] | None:
    methods = _EXACT.get(path)
    if methods is not None:
        return methods, ()
    parts = path.strip("/").split("/")
    for template, methods in _TEMPLATES:
        if len(template) == len(parts) and all(
            t == "{}" or t == p for t, p in zip(template, parts, strict=True)
        ):
            return methods, tuple(p for t, p in zip(template, parts, strict=True) if t == "{}")
    return None


def resolve(method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
    """The handler and path parameters, or an AppError for 404 / 405."""
    found = _match(path)
    if found is None:
        raise errors.AppError(404, "api.context.404.app_error", "Sorry, that page is not here.")
    methods, params = found
    handler = methods.get("GET" if method == "HEAD" else method)
    if handler is None:
        raise errors.AppError(
            405,
            "api.context.405.app_error",
            "Method not allowed.",
            f"{method} {path}; allowed: {', '.join(methods)}",
            headers=[("Allow", ", ".join(methods))],
        )
    return handler, params
