from __future__ import annotations

import pytest

from mmload.limiter.rate import Rate


@pytest.mark.parametrize(
    ("text", "per_sec"),
    [
        ("10/s", 10),
        ("10/sec", 10),
        ("10/secs", 10),
        ("10/second", 10),
        ("10/seconds", 10),
        ("600/m", 10),
        ("600/min", 10),
        ("600/mins", 10),
        ("600/minute", 10),
        ("600/minutes", 10),
        ("36000/h", 10),
        ("36000/hr", 10),
        ("36000/hrs", 10),
        ("36000/hour", 10),
        ("36000/hours", 10),
        ("86400/d", 1),
        ("86400/day", 1),
        ("86400/days", 1),
        ("10/S", 10),
        ("600/Min", 10),
        ("36000/HOURS", 10),
        ("10 PER SECOND", 10),
        ("10 per second", 10),
        ("600 per minute", 10),
        (" 10 / s ", 10),
        ("5/2s", 2.5),
        ("10/5m", 10 / 300),
        ("100 per 2 hours", 100 / 7200),
        ("3/1.5s", 2),
        ("1.5/s", 1.5),
    ],
)
def test_parse_forms_users_type(text: str, per_sec: float) -> None:
    assert Rate.parse(text).per_sec == pytest.approx(per_sec)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "10",
        "ten/s",
        "10/fortnight",
        "-1/s",
        "0/s",
        "0.0/min",
        "10/ms",
        "10/hs",
        "10/ss",
        "10/x",
        "10/",
        "/s",
        "1e3/s",
        "10/0s",
        "10/0 min",
        "10/-1s",
        "10/s/s",
        "10 s",
        "10/sx",
        "10/secondss",
        pytest.param("1" * 400 + "/s", id="overflow"),
        pytest.param("\u0661\u0660/s", id="non-ASCII digits"),
    ],
)
def test_parse_rejects_nonsense_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match="rate") as raised:
        Rate.parse(text)
    assert repr(text) in str(raised.value)
    assert "write it like 10/s or 600/min" in str(raised.value)


def test_parse_keeps_the_burst() -> None:
    assert Rate.parse("600/min", burst=100) == Rate(10, 100)


def test_capacity_and_bound_follow_throttled() -> None:
    rate = Rate.parse("10/s", burst=100)
    assert rate.capacity == 101
    assert rate.max_accepted(5) == 151
    assert str(rate) == "10/s burst 100"


def test_negative_burst_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        Rate(10, -1)
