"""Where a request carries its token: Mattermost's ``ParseAuthTokenFromRequest``."""

from __future__ import annotations

from urllib.parse import parse_qs

from mmload.server.http import Request

COOKIES = ("MMAUTHTOKEN", "MMSID")  # v4 and the 2015 v1 API


def token_from(request: Request) -> str | None:
    """The token from the Authorization header (Bearer or token), a cookie or ``access_token``."""
    auth = request.headers.get("authorization")
    if auth:
        if len(auth) > 6 and auth[:6].upper() == "BEARER":
            return auth[7:]
        if len(auth) > 5 and auth[:5].lower() == "token":
            return auth[6:]
    cookie = request.headers.get("cookie")
    if cookie:
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name in COOKIES and value:
                return value
    if "access_token=" in request.query:
        values = parse_qs(request.query).get("access_token")
        if values:
            return values[0]
    return None


def login_cookie(name: str, token: str) -> tuple[str, str]:
    return ("Set-Cookie", f"{name}={token}; Path=/; Max-Age=2592000; HttpOnly")
