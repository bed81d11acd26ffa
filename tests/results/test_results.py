"""The run folder's data: blocks of records, the records file, timeline and tally aggregates, and
their readers, including a killed run's folder."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import numpy as np
import pytest

from mmload.results import block as block_module
from mmload.results.block import Block, FrameError
from mmload.results.folder import KEYS_CSV, write_keys
from mmload.results.record import LIMITED, OUTCOMES, Record, limited_label, outcome, outcome_codes
from mmload.results.records_file import (
    RECORDS_BIN,
    RecordsWriter,
    in_send_order,
    load_records,
    read_blocks,
    read_records,
)
from mmload.results.tally import Tally
from mmload.results.timeline import Second, Timeline, code_ms, latency_codes, quantile
from mmload.results.timeline_file import TimelineWriter, read_timeline


def rec(
    sent: float,
    status: int = 200,
    remaining: float | None = 5,
    key: str = "k",
    latency: float = 2.5,
    endpoint: str = "GET /x",
) -> Record:
    return Record(
        sent,
        latency,
        endpoint,
        status,
        key,
        "token:1",
        "addr:1",
        101,
        remaining,
        1,
        None,
        None,
        "",
        "mattermost",
        None,
        "",
    )


def random_records(n: int, seed: int = 7) -> list[Record]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        status = rng.choice([200, 200, 201, 429, 500, 0, 401])
        out.append(
            Record(
                1000 + rng.random() * 5,
                rng.choice([0.0, 0.9, 3.3, 47.0, 1234.5]),
                rng.choice(["GET /a", "POST /b", "GET /ü"]),
                status,
                rng.choice(["k1", "k2", ""]),
                rng.choice(["token:a", ""]),
                "addr:1",
                rng.choice([None, 101.0]),
                rng.choice([None, 0.0, 3.0, 100.0]),
                rng.choice([None, 1.0, 1764387161.0]),
                2.0 if status == 429 else None,
                rng.choice([None, 11.0]),
                rng.choice(["", "default"]),
                rng.choice(["", "mattermost", "ietf"]),
                rng.choice([None, 1764387160.0]),
                rng.choice(["", "malformed x-ratelimit-remaining: '1_0'", "timed out"]),
                rng.choice(["", "abcd1234"]),
                rng.choice(["", '"a";q=1;r=0, "b";q=9;w=9;r=4']),
            )
        )
    return out


def test_a_block_holds_records_exactly_and_survives_its_frame() -> None:
    records = random_records(500)
    block = Block.from_records(records)
    assert list(block.records()) == records
    back, meta = Block.decode(block.encode({"source": "w1"}))
    assert list(back.records()) == records and meta == {"source": "w1"}
    assert list(Block.empty().records()) == []
    assert list(Block.decode(Block.empty().encode())[0].records()) == []


def test_a_frame_from_before_a_column_existed_reads_it_as_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Folders written before ``bucket`` and ``policies`` were recorded still read."""
    records = random_records(50)
    block = Block.from_records(records)
    old = tuple(n for n in block_module.TEXT if n not in ("bucket", "policies"))
    monkeypatch.setattr(block_module, "TEXT", old)
    frame = Block(
        {**block.numbers}, {n: block.codes[n] for n in old}, {n: block.tables[n] for n in old}
    ).encode()
    monkeypatch.undo()
    back, _ = Block.decode(frame)
    assert list(back.records()) == [r._replace(bucket="", policies="") for r in records]


def test_blocks_concatenate_and_cut() -> None:
    a, b = random_records(50, seed=1), random_records(70, seed=2)
    joined = Block.concat([Block.from_records(a), Block.empty(), Block.from_records(b)])
    assert list(joined.records()) == a + b
    assert list(joined.take(slice(45, 55)).records()) == (a + b)[45:55]


def test_a_damaged_frame_is_refused() -> None:
    frame = bytearray(Block.from_records(random_records(10)).encode())
    frame[-3] ^= 0xFF
    with pytest.raises(FrameError):
        Block.decode(bytes(frame))


def test_the_records_file_reads_back_a_killed_run_and_keeps_the_cap(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_BIN
    writer = RecordsWriter(path, max_records=10)
    writer.add_block(Block.from_records([rec(1000.25 + i / 10) for i in range(8)]))
    writer.flush()
    whole = path.read_bytes()
    writer.add_block(Block.from_records([rec(1001.0 + i / 10) for i in range(5)]))
    writer.flush()
    assert (writer.written, writer.dropped) == (10, 3)
    # killed in the middle of writing the second frame: the first still reads back
    path.write_bytes(path.read_bytes()[: len(whole) + 20])
    back = list(read_records(tmp_path))
    assert len(back) == 8 and back[0].remaining == 5 and back[0].retry_after is None
    writer.close()


def test_readers_give_records_in_send_order_whatever_the_answer_order(tmp_path: Path) -> None:
    rng = random.Random(3)
    records = [rec(1000 + i * 0.01, latency=rng.choice([1.0, 900.0, 4000.0])) for i in range(3000)]
    by_answer = sorted(records, key=lambda r: r.answered)
    writer = RecordsWriter(tmp_path / RECORDS_BIN, max_records=10**6)
    for start in range(0, len(by_answer), 100):  # one frame a flush, in answer order
        writer.add_block(Block.from_records(by_answer[start : start + 100]))
    writer.close()
    streamed = list(read_records(tmp_path, horizon=5.0))
    assert streamed == sorted(records, key=lambda r: r.sent)
    assert list(load_records(tmp_path).records()) == streamed
    # the stream holds back only the horizon: more than one block comes out
    assert len(list(in_send_order(read_blocks(tmp_path), 5.0))) > 5


def test_latency_codes_are_within_five_percent_and_exact_across_processes() -> None:
    ms = np.array([0.013, 0.7, 3.14159, 47.9, 99.6, 999.0, 12345.0, 0.0, -1.0])
    codes = latency_codes(ms)
    for value, code in zip(ms, codes.tolist(), strict=True):
        if value > 0:
            assert abs(code_ms(code) - value) <= 0.05 * value
        else:
            assert code == 0
    assert code_ms(int(latency_codes(np.array([99.6]))[0])) == 100.0
    assert quantile({1: 50, 2: 45, 9: 5}, 0.5) == code_ms(1)
    assert quantile({}, 0.5) is None


def test_partial_seconds_merge_to_the_same_as_one_pass() -> None:
    records = random_records(2000)
    whole = Timeline()
    whole.add(Block.from_records(records))
    merged = Timeline()
    for part in (records[:700], records[700:1500], records[1500:]):
        partial = Timeline()
        partial.add(Block.from_records(part))
        merged.merge(Second.from_dict(s.to_dict()) for s in partial.drain())  # as msgpack'd
    assert [s.row() for s in merged.drain()] == [s.row() for s in whole.drain()]


def test_a_second_counts_outcomes_and_extremes() -> None:
    timeline = Timeline()
    statuses = (200, 201, 302, 429, 429, 401, 500, 0)
    timeline.add(Block.from_records([rec(1.5, s, remaining=s % 7) for s in statuses]))
    (s,) = timeline.drain()
    assert (s.second, s.offered, s.accepted, s.limited, s.errors) == (1, 8, 3, 2, 3)
    assert (s.remaining_min, s.remaining_max) == (0, 5)  # statuses mod 7


def test_tally_merges_and_counts_logins() -> None:
    login = "POST /api/v4/users/login"
    a, b = Tally(), Tally()
    a.add(Block.from_records([rec(1, 200, endpoint=login)] * 3))
    b.add(Block.from_records([rec(1, 401, endpoint=login), rec(1, 429, endpoint=login)]))
    a.merge(Tally.from_dict(b.to_dict()))
    assert a.logins() == {"succeeded": 3, "limited": 1, "attempted": 5}
    assert a.totals() == {"offered": 5, "accepted": 3, "limited": 1, "error": 1}
    assert a.by_key == {"k": {"accepted": 3, "limited": 1, "error": 1}}


def test_outcome_takes_the_statuses_a_run_counts_as_refusals() -> None:
    """429 by default; told 429 and 503 (nginx's limit_req), a 503 is limited too, and the
    vectorised form agrees with the scalar one status by status."""
    statuses = [0, 200, 201, 302, 400, 401, 429, 500, 503, 599]
    nginx = frozenset({429, 503})
    assert sorted(LIMITED) == [429]
    assert [outcome(s) for s in statuses] == [
        "error",
        "accepted",
        "accepted",
        "accepted",
        "error",
        "error",
        "limited",
        "error",
        "error",
        "error",
    ]
    assert outcome(503, nginx) == "limited" and outcome(503) == "error"
    assert outcome(429, frozenset({503})) == "error"  # only what the run was told
    for limited in (LIMITED, nginx, frozenset({503})):
        codes = outcome_codes(np.array(statuses, dtype=np.int32), limited).tolist()
        expected = [("accepted", "limited", "error").index(outcome(s, limited)) for s in statuses]
        assert codes == expected
    assert limited_label() == "429" and limited_label(frozenset({503})) == "503"
    assert limited_label(nginx) == "limited"


def test_timeline_and_tally_count_503_as_limited_only_when_told() -> None:
    login = "POST /api/v4/users/login"
    records = [
        rec(1.2, 200),
        rec(1.3, 503),
        rec(1.4, 503),
        rec(1.5, 429),
        rec(1.6, 500),
        rec(1.7, 503, endpoint=login),
        rec(1.8, 200, endpoint=login),
    ]
    block = Block.from_records(records)
    told, untold = Timeline(frozenset({429, 503})), Timeline()
    told.add(block)
    untold.add(block)
    (s,) = told.drain()
    assert (s.offered, s.accepted, s.limited, s.errors) == (7, 2, 4, 1)
    assert sum(s.limited_ms.values()) == 4
    (s,) = untold.drain()
    assert (s.offered, s.accepted, s.limited, s.errors) == (7, 2, 1, 4)
    nginx = Tally(frozenset({429, 503}))
    nginx.add(block)
    assert nginx.totals() == {"offered": 7, "accepted": 2, "limited": 4, "error": 1}
    assert nginx.logins() == {"succeeded": 1, "limited": 1, "attempted": 2}
    assert nginx.login_refusals() == [503]
    assert nginx.by_key == {"k": {"accepted": 2, "limited": 4, "error": 1}}
    plain = Tally()
    plain.add(block)
    assert plain.totals() == {"offered": 7, "accepted": 2, "limited": 1, "error": 4}
    assert plain.logins()["limited"] == 0 and plain.login_refusals() == []
    # across processes (as msgpack'd), the tally keeps what it was told
    again = Tally.from_dict(nginx.to_dict())
    assert again.limited == frozenset({429, 503}) and again.totals() == nginx.totals()
    merged = Tally(frozenset({429, 503}))
    merged.merge(again)
    merged.merge(again)
    assert merged.totals()["limited"] == 8 and merged.by_key["k"]["limited"] == 8
    assert Tally.from_dict({"by_endpoint": {}, "by_key": {}}).limited == LIMITED


def test_the_timeline_file_rewrites_provisional_rows_and_readers_merge_seconds(
    tmp_path: Path,
) -> None:
    writer = TimelineWriter(tmp_path)
    first = Timeline()
    first.add(Block.from_records([rec(1000.5), rec(1001.5)]))
    provisional = first.drain()
    writer.write([], provisional)
    writer.flush()
    assert [r["offered"] for r in read_timeline(tmp_path)] == [1, 1]
    later = Timeline()
    later.add(Block.from_records([rec(1000.5, 429, remaining=0), rec(1000.6)]))
    first.merge(provisional)
    first.merge(later.drain())
    writer.write(first.drain(), [])  # the provisional rows are replaced, not repeated
    # a response later than the grace period: a second row for second 1000
    late = Timeline()
    late.add(Block.from_records([rec(1000.9, latency=90_000.0)]))
    writer.write(late.drain(), [])
    writer.close()
    rows = read_timeline(tmp_path)
    assert [(r["second"], r["offered"], r["limited"]) for r in rows] == [(1000, 4, 1), (1001, 1, 0)]
    assert rows[0]["remaining_min"] == 0 and rows[0]["accepted_p50_ms"] == pytest.approx(2.5)
    assert not math.isnan(rows[0]["accepted_p95_ms"] or math.nan)


def test_keys_file_round_trip(tmp_path: Path) -> None:
    counts = {
        "addr:1": {"accepted": 3, "limited": 2, "error": 0},
        "": {"accepted": 1, "limited": 0, "error": 4},
    }
    write_keys(tmp_path, counts)
    with open(tmp_path / KEYS_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["key"]: {o: int(r[o]) for o in OUTCOMES} for r in rows} == counts


def test_error_bodies_are_kept_as_shapes_only() -> None:
    from mmload.results.samples import merge, shape

    assert shape(b"limit exceeded\n") == "limit exceeded"
    error = b'{"id":"api.x","message":"m","detailed_error":"","request_id":"r","status_code":401}'
    assert shape(error) == "apperror"
    assert [shape(b) for b in (b'{"a":1}', b"<html>", b"oops", b"", None, b"{")] == [
        "json",
        "html",
        "text",
        "empty",
        "empty",
        "text",
    ]
    into = {"429": {"limit exceeded": 1}}
    merge(into, {"429": {"limit exceeded": 2, "html": 1}, "401": {"apperror": 1}})
    assert into == {"429": {"limit exceeded": 3, "html": 1}, "401": {"apperror": 1}}
