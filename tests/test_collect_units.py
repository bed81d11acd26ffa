"""The collector's pure parts: header parsing, mergeable aggregates, the run folder, accounts."""

from __future__ import annotations

import gzip
import random
from email.utils import formatdate
from pathlib import Path

import pytest
from geventhttpclient.header import Headers as FastHeaders
from requests.structures import CaseInsensitiveDict

from mmload.harness import accounts
from mmload.harness.headers import number, snapshot
from mmload.harness.options import Settings
from mmload.harness.pacing import Pacer, steps
from mmload.results.record import Record
from mmload.results.runfolder import RECORDS_CSV_GZ, RunWriter, read_records, read_timeline
from mmload.results.tally import Tally
from mmload.results.timeline import Second, Timeline, latency_bucket, quantile


def rec(sent: float, status: int = 200, remaining: float | None = 5, key: str = "k") -> Record:
    return Record(sent, 2.5, "GET /x", status, key, 101, remaining, 1, None, "")


def test_header_numbers_from_every_dialect() -> None:
    assert number("101") == 101
    assert number("1.5") == 1.5
    assert number("10, 10;w=1") == 10  # IETF draft quota list: the first item
    assert number(["3", "4"]) == 4  # a repeated header: the last one
    assert number("soon") is None
    assert number("nan") is None


@pytest.mark.parametrize("kind", [FastHeaders, CaseInsensitiveDict])
def test_snapshot_reports_malformed_values_without_raising(kind: type) -> None:
    headers = kind()
    headers["X-Ratelimit-Limit"] = "101"
    headers["X-Ratelimit-Remaining"] = "lots"
    headers["Retry-After"] = "2"
    snap, problem = snapshot(headers)
    assert snap == (101, None, None, 2)
    assert "malformed x-ratelimit-remaining" in problem


def test_snapshot_of_repeated_and_absent_headers() -> None:
    headers = FastHeaders()
    headers.add("X-Ratelimit-Remaining", "7")
    headers.add("X-Ratelimit-Remaining", "6")
    assert snapshot(headers) == ((None, 6, None, None), "")
    plain = FastHeaders()
    plain["Content-Type"] = "application/json"
    assert snapshot(plain) == ((None, None, None, None), "")
    assert snapshot(None) == ((None, None, None, None), "")


def test_snapshot_reads_ietf_draft_names_and_http_date_retry_after() -> None:
    future = formatdate(timeval=__import__("time").time() + 30, usegmt=True)
    headers = {"ratelimit-limit": "10", "ratelimit-remaining": "0", "retry-after": future}
    (limit, remaining, _, retry), problem = snapshot(headers)
    assert (limit, remaining, problem) == (10, 0, "")
    assert retry is not None and 25 < retry <= 31


def test_latency_buckets_are_within_five_percent() -> None:
    for ms in (0.013, 0.7, 3.14159, 47.9, 999.0, 12345.0):
        assert abs(latency_bucket(ms) - ms) <= 0.05 * ms
    assert quantile({1.0: 50, 2.0: 45, 9.0: 5}, 0.5) == 1.0
    assert quantile({1.0: 50, 2.0: 45, 9.0: 5}, 0.95) == 2.0
    assert quantile({}, 0.5) is None


def test_partial_seconds_merge_to_the_same_as_one_pass() -> None:
    rng = random.Random(7)
    records = [
        rec(1000 + rng.random() * 5, rng.choice([200, 200, 429, 500, 0]), rng.choice([None, 0, 3]))
        for _ in range(2000)
    ]
    whole = Timeline()
    whole.add(records)
    merged = Timeline()
    for part in (records[:700], records[700:1500], records[1500:]):
        partial = Timeline()
        partial.add(part)
        merged.merge(Second.from_dict(s.to_dict()) for s in partial.drain())  # as msgpack'd
    assert [s.row() for s in merged.drain()] == [s.row() for s in whole.drain()]


def test_second_counts_outcomes() -> None:
    s = Second(1)
    for status in (200, 201, 302, 429, 429, 401, 500, 0):
        s.add(rec(1.5, status))
    assert (s.offered, s.accepted, s.limited, s.errors) == (8, 3, 2, 3)


def test_tally_merges_and_counts_logins() -> None:
    a, b = Tally(), Tally()
    a.add([Record(1, 1, "POST /api/v4/users/login", 200, "k", None, None, None, None, "")] * 3)
    b.add([Record(1, 1, "POST /api/v4/users/login", 401, "k", None, None, None, None, "")])
    b.add([Record(1, 1, "POST /api/v4/users/login", 429, "k", None, None, None, None, "")])
    a.merge(Tally.from_dict(b.to_dict()))
    assert a.logins() == (3, 4)
    assert a.totals() == {"offered": 5, "accepted": 3, "limited": 1, "error": 1}


def test_run_folder_reads_back_a_killed_run(tmp_path: Path) -> None:
    writer = RunWriter(tmp_path, max_records=10)
    writer.add_records([rec(1000.25 + i / 10) for i in range(8)])
    second = Second(1000)
    second.add(rec(1000.5))
    writer.write_timeline([], [second])
    writer.flush()
    # killed here: no close(), so the gzip stream has no trailer
    cut = (tmp_path / RECORDS_CSV_GZ).read_bytes()
    with pytest.raises(EOFError):
        gzip.decompress(cut)
    back = list(read_records(tmp_path))
    assert len(back) == 8 and back[0].remaining == 5 and back[0].retry_after is None
    assert read_timeline(tmp_path)[0]["offered"] == 1
    writer.add_records([rec(1001.0 + i / 10) for i in range(5)])
    assert (writer.records_written, writer.records_dropped) == (10, 3)
    second.add(rec(1000.7))
    writer.write_timeline([second], [])  # the provisional row is replaced, not repeated
    writer.close()
    rows = read_timeline(tmp_path)
    assert [(r["second"], r["offered"]) for r in rows] == [(1000, 2)]
    assert len(list(read_records(tmp_path))) == 10


def test_accounts_file_errors_name_the_line(tmp_path: Path) -> None:
    good = tmp_path / "a.csv"
    good.write_text("login_id,password\nalice,pw1\n# comment\nbob@example.com,pw2,ops\n")
    loaded = accounts.load(good)
    assert [(a.login_id, a.team) for a in loaded] == [
        ("alice", "mmload"),
        ("bob@example.com", "ops"),
    ]
    assert "pw1" not in repr(loaded)
    bad = tmp_path / "b.csv"
    bad.write_text("alice,pw1\nbob\n")
    with pytest.raises(accounts.AccountsError, match="line 2"):
        accounts.load(bad)
    with pytest.raises(accounts.AccountsError, match="cannot read"):
        accounts.load(tmp_path / "missing.csv")
    assert len(accounts.resolve("3")) == 3


def test_pacer_keeps_an_absolute_schedule_and_catches_up() -> None:
    now = [100.0]
    pacer = Pacer(lambda t: 2.0, start=100.0, slot=0.5, clock=lambda: now[0])
    assert pacer.first_delay() == 0.25
    now[0] = 100.25
    assert pacer.next_delay() == pytest.approx(0.5)
    now[0] = 102.0  # a slow response: behind schedule, so no wait until caught up
    assert pacer.next_delay() == 0.0
    assert pacer.next_delay() == 0.0
    assert pacer.next_delay() == pytest.approx(0.25)
    factor = steps(3.0, (0.5, 1.0, 4.0))
    assert [factor(t) for t in (0, 2.9, 3.0, 6.5, 100)] == [0.5, 0.5, 1.0, 4.0, 4.0]


def test_public_settings_never_hold_the_password() -> None:
    settings = Settings.from_options(None)
    assert settings.documented.per_sec == 10 and settings.documented.burst == 100
    assert settings.password not in repr(settings.public())


def test_pacer_changes_rate_exactly_at_a_step() -> None:
    factor = steps(3.0, (0.5, 2.0))
    pacer = Pacer(factor, start=0.0, slot=0.0, clock=lambda: 0.0, step_seconds=3.0)
    sends = [pacer.next_at] + [pacer.next_delay() for _ in range(8)]
    # 0.5/s: 0, 2; then 1 s at 0.5/s covers half a request, the other half at 2/s takes 0.25 s
    assert sends[:4] == pytest.approx([0.0, 2.0, 3.25, 3.75])
