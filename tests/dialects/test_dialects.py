"""Header dialects both ways: what the reference server renders, the collector parses back."""

from __future__ import annotations

import math
from email.utils import formatdate

import http_sfv
import pytest

from mmload import dialects
from mmload.dialects import CAPTURED, DIALECTS, Snapshot, parse, parse_headers, render
from mmload.dialects.ietf import read_policies as ietf_policies
from mmload.dialects.numbers import http_date, number
from mmload.limiter.decision import NS, Decision, ceil_seconds

WALL = 1_800_000_000.25  # a UNIX time with a fraction, so the epoch Reset has to round up
WINDOW_S = 11
WINDOWED = {"ietf", "ietf-draft7", "ietf-draft6"}  # dialects that advertise the window ``w``

DECISIONS = [
    Decision(False, 101, 100, NS // 10),  # a fresh bucket: Reset 0.1 s rounds up to 1
    Decision(False, 101, 57, 4 * NS),  # a whole number of seconds stays as it is
    Decision(False, 101, 0, 10 * NS + 1),  # the last request admitted
    Decision(True, 101, 0, 10 * NS, NS // 10),  # refused: Retry-After 1
    Decision(True, 5, 0, 5 * NS, 2 * NS + 1),  # refused: Retry-After 3
    Decision(False, 1, 0, 0),  # nothing to wait for
    Decision(False, 10_000, 9_999, 86_400 * NS),
]


def expected(dialect: str, d: Decision) -> Snapshot:
    if dialect == "none":
        return Snapshot(
            retry_after=None if d.retry_after_ns < 0 else ceil_seconds(d.retry_after_ns)
        )
    reset = ceil_seconds(d.reset_after_ns)
    return Snapshot(
        limit=d.limit,
        remaining=d.remaining,
        reset=math.ceil(WALL + d.reset_after_ns / NS) if dialect == "epoch" else reset,
        retry_after=None if d.retry_after_ns < 0 else ceil_seconds(d.retry_after_ns),
        window=WINDOW_S if dialect in WINDOWED else None,
        policy="default" if dialect == "ietf" else "",
        dialect=dialect,
    )


# rendering and parsing back


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("decision", DECISIONS, ids=repr)
def test_every_dialect_parses_back_what_it_rendered(dialect: str, decision: Decision) -> None:
    headers = render(dialect, decision, WALL, WINDOW_S)

    assert parse_headers(dict(headers)) == expected(dialect, decision)
    assert ("Retry-After" in dict(headers)) == decision.limited


REFUSED = Decision(True, 101, 0, 10 * NS + 1, NS // 10)


@pytest.mark.parametrize(
    ("dialect", "headers"),
    [
        (
            "mattermost",
            [
                ("X-Ratelimit-Limit", "101"),
                ("X-Ratelimit-Remaining", "0"),
                ("X-Ratelimit-Reset", "11"),
            ],
        ),
        (
            "epoch",
            [
                ("X-Ratelimit-Limit", "101"),
                ("X-Ratelimit-Remaining", "0"),
                ("X-Ratelimit-Reset", "1800000011"),
            ],
        ),
        (
            "ietf",
            [("RateLimit-Policy", '"default";q=101;w=11'), ("RateLimit", '"default";r=0;t=11')],
        ),
        (
            "ietf-draft7",
            [("RateLimit-Policy", "101;w=11"), ("RateLimit", "limit=101, remaining=0, reset=11")],
        ),
        (
            "ietf-draft6",
            [
                ("RateLimit-Limit", "101"),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", "11"),
                ("RateLimit-Policy", "101;w=11"),
            ],
        ),
        ("none", []),
    ],
)
def test_rendered_headers_are_exactly_these(dialect: str, headers: list[tuple[str, str]]) -> None:
    assert render(dialect, REFUSED, WALL, WINDOW_S) == [*headers, ("Retry-After", "1")]


def test_draft7_state_is_the_dictionary_http_sfv_writes() -> None:
    state = http_sfv.Dictionary()
    for key, value in (("limit", 101), ("remaining", 0), ("reset", 11)):
        state[key] = value

    assert dict(render("ietf-draft7", REFUSED, WALL, WINDOW_S))["RateLimit"] == str(state)


def test_dialects_are_listed_in_the_order_the_cli_shows_them() -> None:
    assert DIALECTS == ("mattermost", "epoch", "ietf", "ietf-draft7", "ietf-draft6", "none")


def test_captured_names_every_header_a_parser_reads_once_in_lower_case() -> None:
    assert len(set(CAPTURED)) == len(CAPTURED)
    assert all(name == name.lower() for name in CAPTURED)
    assert {"retry-after", "date", "x-ratelimit-reset", "ratelimit", "ratelimit-policy"} <= set(
        CAPTURED
    )
    for dialect in DIALECTS:
        names = {name.lower() for name, _ in render(dialect, REFUSED, WALL, WINDOW_S)}
        assert names <= set(CAPTURED), dialect


def test_parse_takes_values_aligned_with_captured() -> None:
    values = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": ("3", "3"), "date": None}

    snapshot = parse([values.get(name) for name in CAPTURED])

    assert (snapshot.limit, snapshot.remaining, snapshot.dialect) == (10, 3, "mattermost")
    assert parse([None] * len(CAPTURED)) == Snapshot()
    assert parse(["7"]).limit == 7  # a shorter list: the rest are absent


# strict numbers

MALFORMED = ["1_0", "+5", "-1", "1e3", "0x10", " 5 5", "", "nan", "inf", "٣", "1.", ".5"]


@pytest.mark.parametrize("raw", MALFORMED)
def test_number_refuses_what_python_would_accept(raw: str) -> None:
    assert number(raw) is None


@pytest.mark.parametrize(
    ("raw", "value"), [("0", 0), ("101", 101), ("007", 7), ("1.5", 1.5), (" \t42\t ", 42)]
)
def test_number_reads_digits_with_an_optional_fraction(raw: str, value: float) -> None:
    assert number(raw) == value
    assert type(number(raw)) is type(value)


def test_number_refuses_what_no_float64_holds() -> None:
    assert number("9" * 400) is None
    assert number("9" * 300) == int("9" * 300)


@pytest.mark.parametrize("raw", MALFORMED)
@pytest.mark.parametrize(
    ("name", "field", "others"),
    [
        ("X-Ratelimit-Limit", "limit", {"X-Ratelimit-Remaining": "1"}),
        ("X-Ratelimit-Remaining", "remaining", {"X-Ratelimit-Limit": "10"}),
        ("X-Ratelimit-Reset", "reset", {"X-Ratelimit-Limit": "10"}),
        ("RateLimit-Limit", "limit", {"RateLimit-Remaining": "1"}),
        ("RateLimit-Remaining", "remaining", {"RateLimit-Limit": "10"}),
        ("RateLimit-Reset", "reset", {"RateLimit-Limit": "10"}),
        ("Retry-After", "retry_after", {}),
    ],
)
def test_a_malformed_number_is_named_and_left_empty(
    raw: str, name: str, field: str, others: dict[str, str]
) -> None:
    snapshot = parse_headers({name: raw, **others})

    assert getattr(snapshot, field) is None
    assert snapshot.problem.startswith(f"malformed {name.lower()}: {raw!r}")
    assert snapshot.problem.count("malformed") == 1


def test_a_problem_quotes_at_most_40_characters_of_each_value() -> None:
    raw = "1" * 40 + "x" * 60

    problem = parse_headers({"X-Ratelimit-Remaining": raw}).problem

    assert problem == f"malformed x-ratelimit-remaining: {'1' * 40!r}"


def test_every_malformed_header_is_in_the_problem() -> None:
    snapshot = parse_headers(
        {"X-Ratelimit-Limit": "ten", "X-Ratelimit-Remaining": "-1", "Retry-After": "soon"}
    )

    assert snapshot.problem == (
        "malformed x-ratelimit-limit: 'ten' (quota is not a non-negative integer); "
        "malformed x-ratelimit-remaining: '-1'; malformed retry-after: 'soon'"
    )


def test_envoy_limit_may_carry_its_window_as_a_quota_list() -> None:
    snapshot = parse_headers({"x-ratelimit-limit": "10, 10;w=1", "x-ratelimit-reset": "1"})

    assert (snapshot.limit, snapshot.window, snapshot.dialect) == (10, 1, "mattermost")


# IETF (draft 8 and later): several policies, malformed fields


def ietf(policy: str | None, state: str | None) -> Snapshot:
    headers = {"RateLimit-Policy": policy, "RateLimit": state}
    return parse_headers({name: value for name, value in headers.items() if value is not None})


POLICIES = '"burst";q=100;w=1, "daily";q=1000;w=86400;pk=:cHJvZHVjZXI=:'


@pytest.mark.parametrize(
    ("state", "binding"),
    [
        ('"burst";r=57;t=1, "daily";r=900;t=3600', ("burst", 100, 57, 1, 1)),
        ('"burst";r=57;t=1, "daily";r=3;t=3600', ("daily", 1000, 3, 3600, 86400)),
        ('"burst";r=3;t=1, "daily";r=3;t=3600', ("daily", 1000, 3, 3600, 86400)),  # longer wait
        ('"daily";r=3;t=3600, "burst";r=3;t=3600', ("daily", 1000, 3, 3600, 86400)),  # first
        ('"burst";r=3, "daily";r=3;t=0', ("daily", 1000, 3, 0, 86400)),  # no t: no tie won
        ('"hourly";r=0;t=60, "burst";r=5;t=1', ("hourly", None, 0, 60, None)),  # not declared
    ],
)
def test_the_binding_ietf_policy_is_the_one_closest_to_running_out(
    state: str, binding: tuple[str, int | None, int, int, int | None]
) -> None:
    snapshot = ietf(POLICIES, state)

    assert (
        snapshot.policy,
        snapshot.limit,
        snapshot.remaining,
        snapshot.reset,
        snapshot.window,
    ) == binding
    assert (snapshot.dialect, snapshot.problem) == ("ietf", "")


def test_every_ietf_policy_is_kept_with_what_is_left_of_it() -> None:
    snapshot = ietf(POLICIES, '"burst";r=57;t=1, "daily";r=900;t=3600')
    assert snapshot.policies == '"burst";q=100;w=1;r=57, "daily";q=1000;w=86400;r=900'
    assert ietf_policies(snapshot.policies) == {
        "burst": {"q": 100, "w": 1, "r": 57},
        "daily": {"q": 1000, "w": 86400, "r": 900},
    }
    assert ietf('"default";q=20;w=1', '"default";r=3;t=1').policies == ""  # one says it all


def test_an_ietf_partition_key_names_the_bucket_of_the_binding_policy() -> None:
    state = '"burst";r=57;t=1;pk=:cHJvZHVjZXI=:, "daily";r=3;t=60;pk=:ZGF5:'
    assert ietf(POLICIES, state).bucket == "ZGF5"  # daily binds: its partition
    assert ietf(POLICIES, '"burst";r=1;t=1;pk=user-7').bucket == "user-7"  # a token as it is
    assert ietf(POLICIES, '"burst";r=1;t=1').bucket == ""


@pytest.mark.parametrize("name", ["X-RateLimit-Bucket", "X-RateLimit-Resource"])
def test_a_bucket_named_beside_the_x_ratelimit_headers_is_kept(name: str) -> None:
    headers = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4", name: " abcd1234 "}
    snapshot = parse_headers(headers)
    assert (snapshot.bucket, snapshot.dialect, snapshot.remaining) == ("abcd1234", "mattermost", 4)
    assert parse_headers({name: "abcd1234"}) == Snapshot()  # alone it says nothing of a limit


def test_a_lone_ietf_policy_is_binding_even_without_a_ratelimit_field() -> None:
    assert ietf('"default";q=20;w=1', None) == Snapshot(
        limit=20, window=1, policy="default", dialect="ietf"
    )
    assert ietf(POLICIES, None) == Snapshot(dialect="ietf")  # which of two? nothing says


@pytest.mark.parametrize(
    ("state", "why"),
    [
        ('"default";r=1.5;t=2', "r is not a non-negative integer"),
        ('"default";r="5";t=2', "r is not a non-negative integer"),
        ('"default";r=-1;t=2', "r is not a non-negative integer"),
        ('"default";r=?1;t=2', "r is not a non-negative integer"),
        ('"default";r=5;t=2.0', "t is not a non-negative integer"),
        ('"default";t=2', "r is missing"),
        ("default;r=5;t=2", "a policy name is not a string"),
        ('"default";r=5;t=2, ("a" "b");r=1', "a policy name is not a string"),
        ('"default";r=5;t=2,', "not a structured list"),
        ('"default";r=5 t=2', "not a structured list"),
        ('"défault";r=5;t=2', "not ASCII"),
        ("", "not a structured list"),
    ],
)
def test_a_malformed_ratelimit_field_is_ignored_and_named(state: str, why: str) -> None:
    snapshot = ietf('"default";q=20;w=1', state)

    assert (snapshot.remaining, snapshot.reset) == (None, None)
    assert (snapshot.limit, snapshot.window, snapshot.dialect) == (20, 1, "ietf")  # the policy
    assert snapshot.problem == f"malformed ratelimit: {state!r} ({why})"


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        ('"default";q=20.5;w=1', "q is not a non-negative integer"),
        ('"default";q=20;w=-1', "w is not a non-negative integer"),
        ('"default";w=1', "q is missing"),
        ('"default";q=20;w=1, 7;q=1', "a policy name is not a string"),
    ],
)
def test_a_malformed_policy_field_is_ignored_and_named(policy: str, why: str) -> None:
    snapshot = ietf(policy, '"default";r=5;t=2')

    assert (snapshot.limit, snapshot.window) == (None, None)
    assert (snapshot.remaining, snapshot.reset, snapshot.policy) == (5, 2, "default")
    assert snapshot.problem == f"malformed ratelimit-policy: {policy!r} ({why})"


# IETF drafts 7 and 6


def test_draft7_reads_the_dictionary_and_the_matching_policy_window() -> None:
    snapshot = parse_headers(
        {
            "RateLimit": "limit=1000, remaining=9, reset=60",
            "RateLimit-Policy": "100;w=1, 1000;w=3600",
        }
    )

    assert snapshot == Snapshot(
        limit=1000, remaining=9, reset=60, window=3600, dialect="ietf-draft7"
    )


@pytest.mark.parametrize(
    ("state", "why"),
    [
        ("limit=20, remaining=1.5, reset=1", "remaining is not a non-negative integer"),
        ("limit=20, remaining=19, reset", "reset is not a non-negative integer"),
        ("limit=(20 10), remaining=19, reset=1", "limit is an inner list"),
        ("limit=20, remaining=19, reset=1,", "not a structured dictionary"),
    ],
)
def test_a_malformed_draft7_field_is_ignored_and_named(state: str, why: str) -> None:
    snapshot = parse_headers({"RateLimit": state, "RateLimit-Policy": "20;w=1"})

    assert (snapshot.limit, snapshot.remaining, snapshot.reset) == (None, None, None)
    assert (snapshot.window, snapshot.dialect) == (1, "ietf-draft7")  # the policy
    assert snapshot.problem == f"malformed ratelimit: {state!r} ({why})"


@pytest.mark.parametrize(
    ("headers", "limit", "window"),
    [
        ({"RateLimit-Limit": "10, 10;w=1"}, 10, 1),  # drafts up to 6: the policy in the limit
        ({"RateLimit-Limit": "10", "RateLimit-Policy": "10;w=1, 50;w=60"}, 10, 1),
        ({"RateLimit-Limit": "50", "RateLimit-Policy": "10;w=1, 50;w=60"}, 50, 60),
        ({"RateLimit-Limit": "99", "RateLimit-Policy": "10;w=1, 50;w=60"}, 99, 1),  # the first
        ({"RateLimit-Limit": "10, 10;w=5", "RateLimit-Policy": "10;w=1"}, 10, 5),
        ({"RateLimit-Limit": "10"}, 10, None),
    ],
)
def test_draft6_window_comes_from_the_limit_or_the_policy(
    headers: dict[str, str], limit: int, window: int | None
) -> None:
    snapshot = parse_headers({**headers, "RateLimit-Remaining": "3", "RateLimit-Reset": "2"})

    assert snapshot == Snapshot(
        limit=limit, remaining=3, reset=2, window=window, dialect="ietf-draft6"
    )


def test_a_malformed_draft6_policy_is_named_even_when_the_limit_has_the_window() -> None:
    snapshot = parse_headers({"RateLimit-Limit": "10, 10;w=1", "RateLimit-Policy": "10;w=x"})

    assert (snapshot.limit, snapshot.window) == (10, 1)
    assert (
        snapshot.problem == "malformed ratelimit-policy: '10;w=x' (w is not a non-negative integer)"
    )


# repeated header lines


def test_repeated_structured_lines_are_one_field() -> None:
    snapshot = parse(
        [
            {
                "ratelimit-policy": ['"burst";q=100;w=1', '"daily";q=1000;w=86400'],
                "ratelimit": ('"burst";r=50;t=1', '"daily";r=2;t=600'),
            }.get(name)
            for name in CAPTURED
        ]
    )

    assert (snapshot.policy, snapshot.limit, snapshot.remaining) == ("daily", 1000, 2)
    assert snapshot.problem == ""


def test_repeated_draft7_lines_are_one_dictionary() -> None:
    headers = {"RateLimit": ["limit=20", "remaining=19, reset=1"]}

    snapshot = parse_headers(headers)

    assert (snapshot.limit, snapshot.remaining, snapshot.reset) == (20, 19, 1)


def test_a_repeated_number_counts_only_when_every_line_agrees() -> None:
    same = parse_headers({"X-Ratelimit-Limit": ["101", " 101"], "Retry-After": ["2", "2"]})
    different = parse_headers({"X-Ratelimit-Limit": ["101", "102"], "X-Ratelimit-Reset": "1"})

    assert (same.limit, same.retry_after, same.problem) == (101, 2, "")
    assert (different.limit, different.reset) == (None, 1)
    assert different.problem == (
        "malformed x-ratelimit-limit: '101', '102' (repeated with different values)"
    )


# Retry-After as an HTTP-date, and Date

DATE = 1_800_000_000


def imf(seconds: float) -> str:
    return formatdate(seconds, usegmt=True)


@pytest.mark.parametrize(
    "raw",
    [imf(DATE), "Friday, 15-Jan-27 08:00:00 GMT", "Fri Jan 15 08:00:00 2027"],
    ids=["IMF-fixdate", "RFC 850", "asctime"],
)
def test_http_date_reads_the_current_and_obsolete_forms(raw: str) -> None:
    assert http_date(raw) == DATE


@pytest.mark.parametrize("raw", ["", "soon", "5", "Fri, 31 Feb 2027 08:00:00 GMT", imf(-10)])
def test_http_date_refuses_what_is_no_date_after_1970(raw: str) -> None:
    assert http_date(raw) is None


def test_a_retry_date_is_a_delay_from_the_responses_own_date() -> None:
    snapshot = parse_headers({"Retry-After": imf(DATE + 30), "Date": imf(DATE)})

    assert (snapshot.retry_after, snapshot.retry_at, snapshot.date) == (30, None, DATE)


def test_a_retry_date_already_past_means_now() -> None:
    snapshot = parse_headers({"Retry-After": imf(DATE - 5), "Date": imf(DATE)})

    assert (snapshot.retry_after, snapshot.retry_at) == (0, None)


def test_without_a_date_a_retry_date_stays_absolute() -> None:
    plain = parse_headers({"Retry-After": imf(DATE + 30)})
    bad_date = parse_headers({"Retry-After": imf(DATE + 30), "Date": "yesterday"})

    assert (plain.retry_after, plain.retry_at, plain.date, plain.problem) == (
        None,
        DATE + 30,
        None,
        "",
    )
    assert (bad_date.retry_after, bad_date.retry_at) == (None, DATE + 30)
    assert bad_date.problem == "malformed date: 'yesterday'"


def test_delay_seconds_ignore_the_date() -> None:
    snapshot = parse_headers({"Retry-After": "2.5", "Date": imf(DATE)})

    assert (snapshot.retry_after, snapshot.retry_at, snapshot.date) == (2.5, None, DATE)
    assert snapshot.dialect == ""  # Retry-After alone is no rate-limit dialect


# detection


XRL = {"X-Ratelimit-Limit": "101", "X-Ratelimit-Remaining": "7", "X-Ratelimit-Reset": "3"}
IETF = {"RateLimit-Policy": '"default";q=50;w=5', "RateLimit": '"default";r=20;t=4'}
DRAFT7 = {"RateLimit": "limit=40, remaining=30, reset=5", "RateLimit-Policy": "40;w=10"}
DRAFT6 = {"RateLimit-Limit": "30", "RateLimit-Remaining": "25", "RateLimit-Reset": "6"}


@pytest.mark.parametrize(
    ("headers", "dialect", "remaining"),
    [
        ({**XRL, **IETF}, "ietf", 20),
        ({**XRL, **DRAFT7}, "ietf-draft7", 30),
        ({**XRL, **DRAFT6}, "ietf-draft6", 25),
        ({**DRAFT6, **DRAFT7}, "ietf-draft7", 30),
        ({**DRAFT6, **IETF}, "ietf", 20),
        ({**XRL, **DRAFT6, "RateLimit": '"default";r=20;t=4'}, "ietf", 20),
        (XRL, "mattermost", 7),
        ({**XRL, "X-Ratelimit-Reset": "1000000000"}, "mattermost", 7),
        ({**XRL, "X-Ratelimit-Reset": "1000000001"}, "epoch", 7),
        ({"RateLimit-Policy": '"p";q=10;w=1'}, "ietf", None),
        ({"RateLimit-Policy": "10;w=1"}, "ietf-draft6", None),
        ({"X-Ratelimit-Reset": "soon"}, "mattermost", None),
        ({"RateLimit": "!!"}, "ietf", None),  # malformed: still this family's header
        ({"Retry-After": "1"}, "", None),
        ({}, "", None),
    ],
)
def test_detection_prefers_the_newest_ietf_draft(
    headers: dict[str, str], dialect: str, remaining: int | None
) -> None:
    snapshot = parse_headers(headers)
    lower = {name.lower(): value for name, value in headers.items()}

    assert (snapshot.dialect, snapshot.remaining) == (dialect, remaining)
    assert parse([lower.get(name) for name in CAPTURED]).dialect == dialect


def test_parse_headers_ignores_the_case_of_names() -> None:
    snapshot = parse_headers(
        {"x-RATELIMIT-limit": "5", "X-RateLimit-Remaining": "4", "x-ratelimit-reset": "1"}
    )
    twice = parse_headers({"X-Ratelimit-Limit": "5", "x-ratelimit-limit": "6"})

    assert (snapshot.limit, snapshot.remaining, snapshot.reset) == (5, 4, 1)
    assert twice.limit is None and "repeated with different values" in twice.problem


def test_the_registry_reexports_what_the_server_uses() -> None:
    assert dialects.Headers == list[tuple[str, str]]
    assert callable(dialects.render)
