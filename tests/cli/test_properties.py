"""What users type, checked with hypothesis: the accounts file, ``-t/--run-time`` and the rate
arguments.  Valid input reads back as written; anything else is the project's clear error (an
``AccountsError``, an ``ArgumentTypeError``, a ``ValueError`` naming a rate), never another
exception."""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from locust.util.timespan import parse_timespan

from mmload.harness import accounts
from mmload.harness.accounts import Account, AccountsError
from mmload.limiter.rate import Rate
from mmload.options import MAX_RUN_TIME, duration_seconds, format_duration, run_time

FAST = settings(max_examples=200, deadline=None)
UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


# the accounts file

# text a CSV field can hold and read back: no surrounding whitespace (it is trimmed), no byte
# order mark (the file's own), no surrogates (not UTF-8)
FIELD = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\ufeff"), min_size=1
).filter(lambda t: t == t.strip())
ACCOUNT = st.builds(
    Account,
    login_id=FIELD.filter(lambda t: not t.startswith("#")),  # a comment
    password=FIELD,
    team=st.one_of(st.just(accounts.DEFAULT_TEAM), FIELD),
)


def write_file(rows: list[list[str]], terminator: str, quoting: Any) -> Path:
    folder = Path(tempfile.mkdtemp())
    path = folder / "accounts.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator=terminator, quoting=quoting).writerows(rows)
    return path


@FAST
@given(
    listed=st.lists(ACCOUNT, min_size=1, max_size=5),
    terminator=st.sampled_from(["\n", "\r\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    header=st.booleans(),
)
@example(
    listed=[Account("a,b", 'p"w, \n\u2028x', "t\rx")],
    terminator="\r\n",
    quoting=csv.QUOTE_MINIMAL,
    header=True,
)
def test_an_accounts_file_written_as_csv_reads_back(
    listed: list[Account], terminator: str, quoting: int, header: bool
) -> None:
    assume([listed[0].login_id.lower(), listed[0].password.lower()] != ["login_id", "password"])
    # the writer quotes a field with a CR only when its line terminator has one (RFC 4180's has)
    fields = [f for a in listed for f in (a.login_id, a.password, a.team)]
    assume("\r" in terminator or not any("\r" in f for f in fields))
    rows = [["login_id", "password"]] if header else []
    rows += [
        [a.login_id, a.password]
        if a.team == accounts.DEFAULT_TEAM and quoting == csv.QUOTE_MINIMAL
        else [a.login_id, a.password, a.team]
        for a in listed
    ]
    path = write_file(rows, terminator, quoting)
    assert accounts.load(path) == listed
    assert accounts.resolve(str(path)) == listed


@FAST
@given(st.binary(max_size=300))
@example(b"a,b\x00c\n")
@example(b"\xff\xfe,pw\n")
@example(b'a,"pw\nb,c\n')
@example(b'a,"pw"x\n')
@example(b"a," + b"x" * 200_000 + b"\n")
def test_any_accounts_file_reads_or_says_why(content: bytes) -> None:
    path = Path(tempfile.mkdtemp()) / "accounts.csv"
    path.write_bytes(content)
    try:
        loaded = accounts.load(path)
    except AccountsError as exc:
        assert str(path) in str(exc)
        return
    assert loaded and all(a.login_id and a.password and a.team for a in loaded)


@FAST
@given(st.text(max_size=30))
@example("")
@example("0")
@example("²")  # a digit to str.isdigit(), not to int()
@example("٣")
@example("100001")
@example("a\x00b")
def test_any_accounts_argument_reads_or_says_why(spec: str) -> None:
    assume(not os.path.exists(spec) or not spec)  # nothing of the repository's
    try:
        listed = accounts.resolve(spec)
    except AccountsError:
        return
    assert spec.isascii() and spec.isdigit() and len(listed) == int(spec) <= accounts.MAX_SEEDED


def test_the_largest_seeded_count_is_taken() -> None:
    assert len(accounts.resolve(str(accounts.MAX_SEEDED))) == accounts.MAX_SEEDED


# -t/--run-time


@FAST
@given(st.integers(1, MAX_RUN_TIME))
def test_a_run_time_reads_back_and_as_locust_reads_it(seconds: int) -> None:
    text = format_duration(seconds)
    assert duration_seconds(text) == parse_timespan(text) == seconds
    assert run_time(text) == text and run_time(str(seconds)) == text


@FAST
@given(
    h=st.none() | st.integers(0, 8000),
    m=st.none() | st.integers(0, 600),
    s=st.none() | st.integers(0, 10_000),
)
def test_every_form_locust_takes_reads_the_same(
    h: int | None, m: int | None, s: int | None
) -> None:
    text = "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n is not None)
    total = 3600 * (h or 0) + 60 * (m or 0) + (s or 0)
    assume(text and 1 <= total <= MAX_RUN_TIME)
    assert duration_seconds(text) == parse_timespan(text) == total


@FAST
@given(st.text(max_size=20))
@example("0")
@example("0h0m0s")
@example("1.5s")
@example("\u0661\u0660s")  # Locust would take these digits
@example("99999999999999999h")  # and these, with a traceback
@example(" 30s")
def test_any_run_time_is_a_run_time_or_a_usage_error(text: str) -> None:
    try:
        seconds = duration_seconds(text)
    except argparse.ArgumentTypeError as exc:
        assert "run time" in str(exc)
        return
    assert 1 <= seconds <= MAX_RUN_TIME and seconds == parse_timespan(text)


# --documented-limit and the other rates


@FAST
@given(
    count=st.integers(1, 10**6) | st.decimals(min_value="0.001", max_value="100000", places=3),
    per=st.sampled_from(["/", " / ", " per ", "per"]),
    n=st.none() | st.integers(1, 1000),
    unit=st.sampled_from(sorted(UNITS)),
    upper=st.booleans(),
    burst=st.integers(0, 10**6),
)
def test_a_rate_reads_as_written(
    count: object, per: str, n: int | None, unit: str, upper: bool, burst: int
) -> None:
    assume(float(str(count)) > 0)
    text = f"{count}{per}{n if n is not None else ''}{unit}"
    rate = Rate.parse(text.upper() if upper else text, burst)
    expected = float(str(count)) / (float(n or 1) * UNITS[unit])
    assert rate == Rate(expected, burst)
    spelled = f"{count} per {n or ''} {unit}"  # every spelling of the same rate is one value
    assert Rate.parse(spelled, burst) == rate
    assert Rate.parse(f"{count}/{n or 1}{unit}", burst).per_sec == pytest.approx(rate.per_sec)


@FAST
@given(st.text(max_size=30))
@example("1e3/s")
@example("1" * 400 + "/s")
@example("10/0s")
@example("-1/s")
@example("\u0661\u0660/s")
@example("10/ms")
def test_any_rate_is_a_rate_or_a_clear_error(text: str) -> None:
    try:
        rate = Rate.parse(text)
    except ValueError as exc:
        assert repr(text) in str(exc) and "write it like 10/s" in str(exc)
        return
    assert 0 < rate.per_sec < float("inf")
    assert text.isascii()  # only ASCII digits, units and spaces are read
