"""The reference server's Mattermost API, through a real process: what a client relies on."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.support.server_checks import ID, assert_app_error, assert_stamped, assert_stats_match
from tests.support.server_fixture import DEFAULT_PASSWORD, ServeFactory, Server

LOGIN = "/api/v4/users/login"
ME = "/api/v4/users/me"
POSTS = "/api/v4/posts"
VIEW = "/api/v4/channels/members/me/view"
CHANNEL_NAMES = {"town-square", "off-topic", "load-test-1", "load-test-2"}
INVALID_CREDENTIALS = "api.user.login.invalid_credentials_email_username"
SESSION_EXPIRED = "api.context.session_expired.app_error"
PERMISSIONS = "api.context.permissions.app_error"
INVALID_BODY = "api.context.invalid_body_param.app_error"
INVALID_PARAM = "api.context.invalid_param.app_error"
MISSING_ID = "y" * 26  # a well-formed id that names nothing


@pytest.fixture(scope="module")
def server(serve_for_module: ServeFactory) -> Server:
    """Shared by the tests of this module that need no fresh state."""
    return serve_for_module("--no-rate-limit", "--accounts", "3")


@pytest.fixture
def fresh(serve: ServeFactory) -> Server:
    """A server of the test's own: no posts, sessions or counts from other tests."""
    return serve("--no-rate-limit", "--accounts", "3")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def channels(server: Server, token: str) -> dict[str, dict[str, Any]]:
    team_id = server.get(f"{ME}/teams", headers=bearer(token)).json()[0]["id"]
    response = server.get(f"/api/v4/users/me/teams/{team_id}/channels", headers=bearer(token))
    assert response.status_code == 200, response.text
    return {c["name"]: c for c in response.json()}


def posts_of(
    server: Server, token: str, channel_id: str, **query: int
) -> tuple[list[str], dict[str, Any]]:
    response = server.get(
        f"/api/v4/channels/{channel_id}/posts", headers=bearer(token), params=query
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["order"]) == set(body["posts"])
    return [body["posts"][post_id]["message"] for post_id in body["order"]], body


# v4 login, logout, sessions


@pytest.mark.parametrize("login_id", ["user2", "user2@example.com"])
def test_v4_login_by_username_or_email_returns_token_cookie_and_user(
    server: Server, login_id: str
) -> None:
    response = server.post(LOGIN, json={"login_id": login_id, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200, response.text
    assert_stamped(response.headers)
    token = response.headers["Token"]
    assert ID.match(token)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"MMAUTHTOKEN={token};")
    assert {"Path=/", "Max-Age=2592000", "HttpOnly"} <= {p.strip() for p in cookie.split(";")}
    user = response.json()
    assert (user["username"], user["email"]) == ("user2", "user2@example.com")
    assert ID.match(user["id"])
    assert not {"password", "Password"} & user.keys(), "the user object leaks the password"
    assert server.get(ME, headers=bearer(token)).json()["id"] == user["id"]


def test_every_login_is_a_new_session(fresh: Server) -> None:
    first, second = fresh.login("user1"), fresh.login("user1")

    assert first != second
    for token in (first, second):
        assert fresh.get(ME, headers=bearer(token)).status_code == 200
    stats = fresh.stats()
    assert (stats["logins"], stats["logins_by_user"], stats["sessions"]) == (2, {"user1": 2}, 2)


@pytest.mark.parametrize(
    "body",
    [
        {"login_id": "user1", "password": "wrong"},
        {"login_id": "nobody", "password": DEFAULT_PASSWORD},
        {"login_id": "user1@example.org", "password": DEFAULT_PASSWORD},
        {"login_id": "USER1", "password": DEFAULT_PASSWORD},
    ],
)
def test_v4_login_with_bad_credentials_is_401(server: Server, body: dict[str, str]) -> None:
    sessions_before = server.stats()["sessions"]

    response = server.post(LOGIN, json=body)

    assert_app_error(response, 401, INVALID_CREDENTIALS)
    assert "Token" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert server.stats()["sessions"] == sessions_before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"login_id": "user1"},
        {"password": DEFAULT_PASSWORD},
        {"login_id": "", "password": DEFAULT_PASSWORD},
        {"login_id": 1, "password": DEFAULT_PASSWORD},
        {"login_id": "user1", "password": None},
    ],
)
def test_v4_login_without_fields_is_400(server: Server, body: dict[str, Any]) -> None:
    assert_app_error(server.post(LOGIN, json=body), 400, INVALID_PARAM)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b"[1, 2]", b'"user1"', b"\xff\xfe{}", b"[" * 100_000],
    ids=["empty", "truncated", "text", "array", "string", "not-utf8", "nested-100k"],
)
def test_v4_login_with_a_body_that_is_no_json_object_is_400(server: Server, raw: bytes) -> None:
    response = server.post(LOGIN, data=raw, headers={"Content-Type": "application/json"})

    assert_app_error(response, 400, INVALID_BODY)


def test_logout_ends_only_that_session(fresh: Server) -> None:
    token, other = fresh.login("user1"), fresh.login("user1")

    response = fresh.post("/api/v4/users/logout", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"status": "OK"}
    assert_stamped(response.headers)
    cookie = {p.strip() for p in response.headers["Set-Cookie"].split(";")}
    assert {"MMAUTHTOKEN=", "Max-Age=0"} <= cookie
    assert_app_error(fresh.get(ME, headers=bearer(token)), 401, SESSION_EXPIRED)
    assert fresh.get(ME, headers=bearer(other)).status_code == 200
    assert fresh.stats()["sessions"] == 1


# where the token may travel


@pytest.mark.parametrize(
    "place", ["bearer", "bearer-upper", "token", "cookie", "cookie-among-others", "query"]
)
def test_token_is_accepted_where_mattermost_accepts_it(server: Server, place: str) -> None:
    server.login("user1")  # another session, so a wrong pick of token would show
    token = server.login("user2")
    headers, params = {}, {}
    if place == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif place == "bearer-upper":
        headers["Authorization"] = f"BEARER {token}"
    elif place == "token":
        headers["Authorization"] = f"token {token}"
    elif place == "cookie":
        headers["Cookie"] = f"MMAUTHTOKEN={token}"
    elif place == "cookie-among-others":
        headers["Cookie"] = f"theme=dark; MMAUTHTOKEN={token}; lang=en"
    else:
        params["access_token"] = token

    response = requests.get(server.url + ME, headers=headers, params=params, timeout=10)

    assert response.status_code == 200, response.text
    assert response.json()["username"] == "user2"


AUTHENTICATED = [
    ("GET", ME, None),
    ("GET", f"{ME}/teams", None),
    ("GET", f"/api/v4/users/me/teams/{MISSING_ID}/channels", None),
    ("GET", f"/api/v4/channels/{MISSING_ID}/posts", None),
    ("POST", POSTS, {"channel_id": MISSING_ID, "message": "hi"}),
    ("POST", VIEW, {"channel_id": MISSING_ID}),
    ("GET", "/api/v1/users/me", None),
]


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer " + MISSING_ID},
        {"Authorization": "Basic dXNlcjE6bW1sb2FkLXBhc3M="},
        {"Cookie": "MMAUTHTOKEN="},
        {"Cookie": "OTHER=" + MISSING_ID},
    ],
    ids=["none", "unknown", "basic", "empty-cookie", "other-cookie"],
)
def test_missing_or_unknown_token_is_401(
    server: Server, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    response = server.request(method, path, json=body, headers=headers)

    assert_app_error(response, 401, SESSION_EXPIRED)


# teams, channels, posts


def test_my_teams_is_the_one_seeded_team(server: Server) -> None:
    response = server.get(f"{ME}/teams", headers=bearer(server.login()))

    assert response.status_code == 200
    [team] = response.json()
    assert team["name"] == "mmload"
    assert ID.match(team["id"])


@pytest.mark.parametrize("who", ["me", "own-id"])
def test_team_channels_lists_the_seeded_channels(server: Server, who: str) -> None:
    token = server.login("user1")
    user_id = "me" if who == "me" else server.get(ME, headers=bearer(token)).json()["id"]
    team_id = server.get(f"{ME}/teams", headers=bearer(token)).json()[0]["id"]

    response = server.get(
        f"/api/v4/users/{user_id}/teams/{team_id}/channels", headers=bearer(token)
    )

    assert response.status_code == 200, response.text
    found = response.json()
    assert {c["name"] for c in found} == CHANNEL_NAMES
    assert all(c["team_id"] == team_id and ID.match(c["id"]) for c in found)


def test_team_channels_of_another_user_or_team_is_403(server: Server) -> None:
    token = server.login("user1")
    other_user = server.post(
        LOGIN, json={"login_id": "user2", "password": DEFAULT_PASSWORD}
    ).json()["id"]
    team_id = server.get(f"{ME}/teams", headers=bearer(token)).json()[0]["id"]

    for path in (
        f"/api/v4/users/{other_user}/teams/{team_id}/channels",
        f"/api/v4/users/me/teams/{MISSING_ID}/channels",
    ):
        assert_app_error(server.get(path, headers=bearer(token)), 403, PERMISSIONS)


def test_created_post_is_201_and_shows_in_its_channel_only(fresh: Server) -> None:
    token = fresh.login("user1")
    user_id = fresh.get(ME, headers=bearer(token)).json()["id"]
    found = channels(fresh, token)
    town, off = found["town-square"]["id"], found["off-topic"]["id"]

    response = fresh.post(
        POSTS, json={"channel_id": town, "message": "hello"}, headers=bearer(token)
    )

    assert response.status_code == 201, response.text
    assert_stamped(response.headers)
    post = response.json()
    assert ID.match(post["id"])
    assert (post["channel_id"], post["message"], post["user_id"]) == (town, "hello", user_id)
    assert abs(post["create_at"] / 1000 - time.time()) < 60
    messages, body = posts_of(fresh, token, town)
    assert messages == ["hello"]
    assert body["posts"][post["id"]]["user_id"] == user_id
    assert posts_of(fresh, token, off)[0] == []


def test_channel_posts_pages_newest_first(fresh: Server) -> None:
    token = fresh.login()
    channel_id = channels(fresh, token)["load-test-1"]["id"]
    for k in range(5):
        response = fresh.post(
            POSTS, json={"channel_id": channel_id, "message": f"m{k}"}, headers=bearer(token)
        )
        assert response.status_code == 201

    assert posts_of(fresh, token, channel_id)[0] == ["m4", "m3", "m2", "m1", "m0"]
    pages = [posts_of(fresh, token, channel_id, page=p, per_page=2) for p in range(4)]
    assert [messages for messages, _ in pages] == [["m4", "m3"], ["m2", "m1"], ["m0"], []]
    assert [body["has_next"] for _, body in pages] == [True, True, False, False]


@pytest.mark.parametrize("query", ["page=x", "per_page=ten", "page=1.5"])
def test_channel_posts_with_bad_paging_is_400(server: Server, query: str) -> None:
    token = server.login()
    channel_id = channels(server, token)["town-square"]["id"]

    response = server.get(f"/api/v4/channels/{channel_id}/posts?{query}", headers=bearer(token))

    assert_app_error(response, 400, INVALID_PARAM)


def test_posts_of_an_unknown_channel_are_403_and_of_a_malformed_id_400(server: Server) -> None:
    token = server.login()

    unknown = server.get(f"/api/v4/channels/{MISSING_ID}/posts", headers=bearer(token))
    malformed = server.get("/api/v4/channels/town-square/posts", headers=bearer(token))

    assert_app_error(unknown, 403, PERMISSIONS)
    assert_app_error(malformed, 400, INVALID_PARAM)


@pytest.mark.parametrize(
    ("body", "status", "error_id"),
    [
        ({"channel_id": MISSING_ID, "message": "x"}, 403, PERMISSIONS),
        ({"channel_id": "town-square", "message": "x"}, 400, INVALID_PARAM),
        ({"message": "x"}, 400, INVALID_PARAM),
        ({"channel_id": None, "message": "x"}, 400, INVALID_PARAM),
        ("not an object", 400, INVALID_BODY),
    ],
)
def test_create_post_refuses_bad_bodies(
    server: Server, body: Any, status: int, error_id: str
) -> None:
    response = server.post(POSTS, json=body, headers=bearer(server.login()))

    assert_app_error(response, status, error_id)


def test_create_post_refuses_a_message_that_is_no_string(fresh: Server) -> None:
    token = fresh.login()
    channel_id = channels(fresh, token)["town-square"]["id"]

    response = fresh.post(
        POSTS, json={"channel_id": channel_id, "message": ["x"]}, headers=bearer(token)
    )

    assert_app_error(response, 400, INVALID_PARAM)
    assert posts_of(fresh, token, channel_id)[0] == []


def test_view_channel_answers_the_view_time(server: Server) -> None:
    token = server.login()
    channel_id = channels(server, token)["off-topic"]["id"]

    response = server.post(VIEW, json={"channel_id": channel_id}, headers=bearer(token))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "OK"
    assert abs(body["last_viewed_at_times"][channel_id] / 1000 - time.time()) < 60
    assert_app_error(
        server.post(VIEW, json={"channel_id": MISSING_ID}, headers=bearer(token)), 403, PERMISSIONS
    )
    assert_app_error(server.post(VIEW, json={}, headers=bearer(token)), 400, INVALID_PARAM)


# the 2015 v1 API


def test_v1_login_returns_token_and_mmsid_cookie_usable_for_v1_me(server: Server) -> None:
    response = server.post(
        "/api/v1/users/login",
        json={"name": "mmload", "email": "user3@example.com", "password": DEFAULT_PASSWORD},
    )

    assert response.status_code == 200, response.text
    token = response.headers["Token"]
    assert ID.match(token)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"MMSID={token};")
    assert {"Path=/", "Max-Age=2592000", "HttpOnly"} <= {p.strip() for p in cookie.split(";")}
    assert response.json()["username"] == "user3"
    for headers in ({"Cookie": f"MMSID={token}"}, bearer(token)):
        me = requests.get(server.url + "/api/v1/users/me", headers=headers, timeout=10)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "user3@example.com"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "other-team", "email": "user1@example.com", "password": DEFAULT_PASSWORD}, 401),
        ({"name": "mmload", "email": "user1@example.com", "password": "wrong"}, 401),
        ({"name": "mmload", "email": "user9@example.com", "password": DEFAULT_PASSWORD}, 401),
        ({"email": "user1@example.com", "password": DEFAULT_PASSWORD}, 400),
        ({"name": "mmload", "password": DEFAULT_PASSWORD}, 400),
    ],
)
def test_v1_login_refusals(server: Server, body: dict[str, str], status: int) -> None:
    response = server.post("/api/v1/users/login", json=body)

    assert_app_error(response, status)
    assert "Token" not in response.headers


# incoming webhooks


def test_hook_with_json_body_posts_to_its_channel(fresh: Server) -> None:
    token = fresh.login()
    found = channels(fresh, token)
    assert set(fresh.hooks) == CHANNEL_NAMES, fresh.stdout()

    response = requests.post(fresh.hooks["off-topic"], json={"text": "from json"}, timeout=10)

    assert response.status_code == 200, response.text
    assert response.text == "ok"
    assert_stamped(response.headers)
    messages, body = posts_of(fresh, token, found["off-topic"]["id"])
    assert messages == ["from json"]
    assert next(iter(body["posts"].values()))["props"]["from_webhook"] == "true"
    assert posts_of(fresh, token, found["town-square"]["id"])[0] == []


def test_hook_with_form_payload_channel_override_and_username(fresh: Server) -> None:
    token = fresh.login()
    found = channels(fresh, token)
    payload = '{"text": "from form & more", "channel": "load-test-2", "username": "bot"}'

    response = requests.post(fresh.hooks["town-square"], data={"payload": payload}, timeout=10)

    assert response.status_code == 200, response.text
    assert posts_of(fresh, token, found["town-square"]["id"])[0] == []
    messages, body = posts_of(fresh, token, found["load-test-2"]["id"])
    assert messages == ["from form & more"]
    assert next(iter(body["posts"].values()))["props"]["override_username"] == "bot"


@pytest.mark.parametrize(
    ("kind", "body", "error_id"),
    [
        ("unknown-hook", {"text": "x"}, "web.incoming_webhook.invalid.app_error"),
        ("hook", {}, "web.incoming_webhook.text.app_error"),
        ("hook", {"text": ""}, "web.incoming_webhook.text.app_error"),
        ("hook", {"text": 5}, "web.incoming_webhook.text.app_error"),
        ("hook", {"text": "x", "channel": "nowhere"}, "web.incoming_webhook.channel.app_error"),
        ("hook", [1], INVALID_BODY),
        ("form", {"text": "x"}, INVALID_PARAM),
    ],
)
def test_hook_refusals_are_400(server: Server, kind: str, body: Any, error_id: str) -> None:
    url = (
        server.url + "/hooks/" + MISSING_ID if kind == "unknown-hook" else server.hooks["off-topic"]
    )
    if kind == "form":  # a form without the payload field
        response = requests.post(url, data=body, timeout=10)
    else:
        response = requests.post(url, json=body, timeout=10)

    assert_app_error(response, 400, error_id)


# seeding and counters


def test_accounts_and_password_seed_exactly_those_users(serve: ServeFactory) -> None:
    server = serve("--accounts", "3", "--password", "s3cret", "--no-rate-limit")

    for k in (1, 2, 3):
        server.login(f"user{k}", "s3cret")
        server.login(f"user{k}@example.com", "s3cret")
    for login_id, password in (("user4", "s3cret"), ("user1", DEFAULT_PASSWORD), ("user0", "")):
        response = server.post(LOGIN, json={"login_id": login_id, "password": password})
        assert response.status_code in (400, 401), (login_id, response.text)
    assert "3 accounts" in server.stdout()


def test_no_accounts_means_nobody_logs_in(serve: ServeFactory) -> None:
    server = serve("--accounts", "0", "--no-rate-limit")

    response = server.post(LOGIN, json={"login_id": "user1", "password": DEFAULT_PASSWORD})

    assert_app_error(response, 401, INVALID_CREDENTIALS)


def test_stats_count_what_the_client_saw(fresh: Server) -> None:
    token = fresh.login("user1")
    channel_id = channels(fresh, token)["town-square"]["id"]  # two GETs
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", ME, {}),
        ("GET", ME, {"headers": bearer(token)}),
        ("POST", LOGIN, {"json": {"login_id": "user2", "password": "x"}}),
        ("POST", LOGIN, {"json": {"login_id": "user2", "password": DEFAULT_PASSWORD}}),
        ("GET", "/nope", {}),
        ("DELETE", ME, {}),
        (
            "POST",
            POSTS,
            {"json": {"channel_id": channel_id, "message": "x"}, "headers": bearer(token)},
        ),
    ]
    seen = [200, 200, 200] + [fresh.request(m, path, **kw).status_code for m, path, kw in calls]

    stats = fresh.stats()

    assert seen == [200, 200, 200, 401, 200, 401, 200, 404, 405, 201]
    assert_stats_match(stats, seen)
    assert (stats["logins"], stats["logins_by_user"]) == (2, {"user1": 1, "user2": 1})
    assert stats["sessions"] == 2
    assert stats["settings"]["enabled"] is False
    assert fresh.stats()["requests"] == len(seen), "reading the counters changed them"


def test_an_account_is_locked_after_max_login_attempts_failed_logins(serve: ServeFactory) -> None:
    """Mattermost's MaximumLoginAttempts: checked before the password, so once locked the right
    password is refused too, with Mattermost's error id; below it a good login resets the count."""
    server = serve("--accounts", "2", "--max-login-attempts", "3", "--no-rate-limit")

    def login(user: str, password: str) -> requests.Response:
        return server.post(LOGIN, json={"login_id": user, "password": password})

    assert [login("user2", "wrong").status_code for _ in range(2)] == [401, 401]
    assert login("user2", DEFAULT_PASSWORD).status_code == 200  # resets the count
    for _ in range(3):
        assert (
            login("user1", "wrong").json()["id"]
            == "api.user.login.invalid_credentials_email_username"
        )
    locked = login("user1", DEFAULT_PASSWORD)
    assert locked.status_code == 401
    assert locked.json()["id"] == "api.user.check_user_login_attempts.too_many.app_error"
    assert login("user2", DEFAULT_PASSWORD).status_code == 200  # another account is not locked
