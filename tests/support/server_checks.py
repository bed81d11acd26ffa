"""Assertions about what every Mattermost response carries: ids, version, AppError bodies."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import requests

# model.NewId: 26 letters of Mattermost's base32 alphabet
ID = re.compile(r"^[ybndrfg8ejkmcpqxot1uwisza345h769]{26}$")
# version.build.confighash.licensed
VERSION_ID = re.compile(r"^\d+\.\d+\.\d+\.[^.\s]+\.[^.\s]+\.(true|false)$")
RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def assert_stamped(headers: Mapping[str, str]) -> str:
    """X-Request-Id (a 26-letter id) and X-Version-Id are present; returns the request id."""
    request_id = headers.get("x-request-id", "")
    assert ID.match(request_id), f"X-Request-Id {request_id!r} is not a 26-letter id"
    version = headers.get("x-version-id", "")
    assert VERSION_ID.match(version), f"X-Version-Id {version!r}"
    return request_id


def assert_app_error(
    response: requests.Response, status: int, error_id: str | None = None
) -> dict[str, Any]:
    """An AppError JSON body with ``status``, whose request_id is the X-Request-Id header."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert {"id", "message", "detailed_error", "request_id", "status_code"} <= body.keys()
    assert body["status_code"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detailed_error"], str)
    assert body["request_id"] == assert_stamped(response.headers)
    if error_id is not None:
        assert body["id"] == error_id, body
    return body


def assert_stats_match(stats: Mapping[str, Any], statuses: Iterable[int]) -> None:
    """The server's counters are what the client saw (``/mmload/stats`` itself not counted)."""
    seen = Counter(statuses)
    assert stats["statuses"] == {str(code): n for code, n in sorted(seen.items())}
    assert stats["requests"] == seen.total()
    assert stats["limited"] == seen[429]
    assert stats["accepted"] == seen.total() - seen[429]
