"""Whatever a server (or a proxy, or a bit flip) sends, parsing never raises nor invents numbers."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mmload.dialects import CAPTURED, DIALECTS, Snapshot, parse, parse_headers, render
from mmload.limiter.decision import NS, Decision, ceil_seconds

FAST = settings(max_examples=300, deadline=None)
NUMBERS = ("limit", "remaining", "reset", "retry_after", "retry_at", "window", "date")
DETECTED = {"", *DIALECTS} - {"none"}

# pieces of every dialect's syntax, so that examples reach deep into the structured-field parsers
PIECES = st.sampled_from(
    [
        '"default"',
        '"a"',
        "default",
        ";q=",
        ";w=",
        ";r=",
        ";t=",
        ";pk=:cHJv:",
        "limit=",
        "remaining=",
        ", reset=",
        ", ",
        ",",
        ";",
        "=",
        "0",
        "7",
        "101",
        "-1",
        "1.5",
        "1.",
        "999999999999999",
        "9" * 400,
        "?1",
        "(1 2)",
        "@1700000000",
        '%"x"',
        " ",
        "\t",
        "٣",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "GMT",
        "+0500",
        ":",
    ]
)
VALUE = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda raw: raw.decode("latin-1")),
    st.lists(PIECES, max_size=8).map("".join),
)
SLOT = st.one_of(st.none(), VALUE, st.lists(VALUE, min_size=1, max_size=3))


def assert_sane(snapshot: Snapshot) -> None:
    assert isinstance(snapshot, Snapshot)
    for field in NUMBERS:
        value = getattr(snapshot, field)
        assert value is None or (math.isfinite(value) and value >= 0), (field, value)
    assert snapshot.dialect in DETECTED
    assert isinstance(snapshot.problem, str) and isinstance(snapshot.policy, str)


@FAST
@given(st.lists(SLOT, min_size=len(CAPTURED), max_size=len(CAPTURED)))
def test_parse_never_raises_and_every_number_is_finite_and_non_negative(values: list) -> None:
    snapshot = parse(values)

    assert_sane(snapshot)
    assert parse(values) == snapshot  # a pure function of the values: the collector caches it


@FAST
@given(st.dictionaries(st.sampled_from([*CAPTURED, "X-RateLimit-Limit", "RATELIMIT"]), VALUE))
def test_parse_headers_never_raises(headers: dict[str, str]) -> None:
    assert_sane(parse_headers(headers))


@FAST
@given(
    dialect=st.sampled_from(DIALECTS),
    limit=st.integers(1, 10**6),
    used=st.integers(0, 10**6),
    reset_after_ns=st.integers(0, 10**6 * NS),
    retry_after_ns=st.one_of(st.just(-1), st.integers(0, 10**4 * NS)),
    wall=st.floats(1.5e9, 4.0e9),  # an epoch Reset is above 10^9
    window_s=st.integers(1, 10**6),
)
def test_every_decision_parses_back_as_rendered(
    dialect: str,
    limit: int,
    used: int,
    reset_after_ns: int,
    retry_after_ns: int,
    wall: float,
    window_s: int,
) -> None:
    d = Decision(retry_after_ns >= 0, limit, max(0, limit - used), reset_after_ns, retry_after_ns)

    snapshot = parse_headers(dict(render(dialect, d, wall, window_s)))

    retry = None if retry_after_ns < 0 else ceil_seconds(retry_after_ns)
    assert (snapshot.retry_after, snapshot.problem) == (retry, "")
    if dialect == "none":
        assert snapshot == Snapshot(retry_after=retry)
        return
    reset = (
        math.ceil(wall + reset_after_ns / NS)
        if dialect == "epoch"
        else ceil_seconds(reset_after_ns)
    )
    assert (snapshot.limit, snapshot.remaining, snapshot.reset) == (limit, d.remaining, reset)
    assert snapshot.window == (window_s if dialect.startswith("ietf") else None)
    assert snapshot.dialect == dialect
