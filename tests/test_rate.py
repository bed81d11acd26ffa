from __future__ import annotations

import pytest

from mmload.limiter.rate import Rate


@pytest.mark.parametrize(
    ("text", "per_sec"),
    [("10/s", 10), ("10/second", 10), ("10 per second", 10), ("600/min", 10), ("36000/hour", 10),
     ("5/2s", 2.5), ("1.5/s", 1.5), ("86400/day", 1)],
)  # fmt: skip
def test_parse_forms_users_type(text: str, per_sec: float) -> None:
    assert Rate.parse(text).per_sec == pytest.approx(per_sec)


@pytest.mark.parametrize("text", ["", "10", "ten/s", "10/fortnight", "-1/s", "0/s"])
def test_parse_rejects_nonsense_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate.parse(text)


def test_capacity_and_bound_follow_throttled() -> None:
    rate = Rate.parse("10/s", burst=100)
    assert rate.capacity == 101
    assert rate.max_accepted(5) == 151
    assert str(rate) == "10/s burst 100"


def test_negative_burst_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        Rate(10, -1)
