"""The live rate-limit view's numbers (:mod:`mmload.results.live`), pure: rows per key and
endpoint, rows across keys, where the enforced-rate estimate is shown, the CSV, and that
workers' blocks add up to the same view (what the master shows)."""

from __future__ import annotations

import json
from typing import Any

from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.results.live import ALL, ALL_KEYS, KEEP, MAX_KEYS, MAX_ROWS, Live, to_csv
from tests.support.records import LOGIN, ME, POSTS, record, saturated


def by_name(view: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["key"], row["endpoint"]): row for row in view["rows"]}


def test_live_rates_latest_headers_and_estimate() -> None:
    live = Live(Documented.resolve())
    records = saturated(range(100, 110))
    burst = [record(99.5, 200, remaining=100.0 - i) for i in range(101)]  # a full bucket first
    live.add(Block.from_records([*burst, *records[:150]]))
    live.add(Block.from_records([*records[150:], record(105.2, 200, endpoint=LOGIN)]))
    view = live.view(now=112.0)  # seconds up to 109 have settled
    assert view["settled"] == 109 and view["first"] == 99
    assert view["documented"] == {"per_sec": 10.0, "burst": 100, "text": "10/s burst 100"}
    rows = {row["endpoint"]: row for row in view["rows"]}
    assert list(rows) == [ALL, ME, LOGIN]  # one key: no rows across keys; its endpoints, each
    me = rows[ME]
    assert (me["offered"], me["accepted"], me["limited"]) == (40.0, 10.0, 30.0)  # over 105..109
    assert (me["requests"], me["refused"], me["errors"]) == (101 + 400, 300, 0)
    assert (me["remaining"], me["limit"], me["reset"]) == (0.0, 101.0, 1.0)  # the latest sent
    assert rows[ALL]["enforced"] == 10.0 and rows[ALL]["saturated"] == 10  # the burst: no 429
    assert rows[ALL]["accepted"] == 10.2 and rows[ALL]["requests"] == 502
    assert me["enforced"] is None and me["saturated"] is None  # a part of the key's bucket
    assert rows[LOGIN]["remaining"] is None and rows[LOGIN]["enforced"] is None
    (series,) = view["keys"]
    assert series["start"] == 99 and series["enforced"] == 10.0
    assert series["accepted"] == [101] + [10] * 5 + [11] + [10] * 4  # the login in 105
    assert series["limited"] == [0] + [30] * 10
    assert json.loads(json.dumps(view, allow_nan=False)) == view


def test_estimate_is_the_keys_not_an_endpoints_share() -> None:
    """The mixed scenario: two endpoints drain one bucket of 10/s, 6.5 and 3.5 a second; only
    the key's row says 10/s, the endpoints' rows show no estimate."""
    live = Live(Documented.resolve())
    posts = [r for s in range(0, 20) for r in saturated(range(s, s + 1), 6 + s % 2, 20)]
    login = [
        r
        for s in range(0, 20)
        for r in saturated(range(s, s + 1), 4 - s % 2, 10, "addr:a", LOGIN, offset=0.3)
    ]
    live.add(Block.from_records(posts + login))
    rows = by_name(live.view(21.5))  # settled up to 19
    assert rows[("addr:a", ALL)]["enforced"] == 10.0
    assert rows[("addr:a", ALL)]["saturated"] == 20
    assert rows[("addr:a", ME)]["accepted"] == 6.6  # 7, 6, 7, 6, 7 over seconds 15..19
    for endpoint in (ME, LOGIN):
        assert rows[("addr:a", endpoint)]["enforced"] is None
        assert rows[("addr:a", endpoint)]["saturated"] is None


def test_rows_across_keys_come_first_and_add_up() -> None:
    live = Live(Documented.resolve())
    a = saturated(range(0, 10), 10, 30, "addr:a") + saturated(range(0, 10), 2, 1, "addr:a", LOGIN)
    b = saturated(range(0, 10), 12, 5, "addr:b") + saturated(range(0, 10), 1, 0, "addr:b", LOGIN)
    live.add(Block.from_records(a + b))
    view = live.view(12.0)  # settled up to 9: rates over 5..9
    assert [(r["key"], r["endpoint"]) for r in view["rows"]] == [
        (ALL_KEYS, ALL),
        (ALL_KEYS, ME),
        (ALL_KEYS, LOGIN),
        ("addr:a", ALL),
        ("addr:a", ME),
        ("addr:a", LOGIN),
        ("addr:b", ALL),
        ("addr:b", ME),
        ("addr:b", LOGIN),
    ]
    rows = by_name(view)
    overall, me = rows[(ALL_KEYS, ALL)], rows[(ALL_KEYS, ME)]
    assert (overall["offered"], overall["accepted"], overall["limited"]) == (61.0, 25.0, 36.0)
    assert (me["offered"], me["accepted"], me["limited"]) == (57.0, 22.0, 35.0)
    assert (overall["requests"], overall["refused"], overall["errors"]) == (610, 360, 0)
    assert me["requests"] == rows[("addr:a", ME)]["requests"] + rows[("addr:b", ME)]["requests"]
    assert (rows[("addr:a", ALL)]["enforced"], rows[("addr:b", ALL)]["enforced"]) == (12.0, 13.0)
    assert overall["enforced"] == 12.5 and overall["saturated"] == 2  # the keys' median
    assert me["enforced"] is None and rows[(ALL_KEYS, LOGIN)]["enforced"] is None  # parts
    assert (me["remaining"], me["limit"], me["reset"]) == (None, 101.0, None)  # per key only
    assert [k["key"] for k in view["keys"]] == ["addr:a", "addr:b"]  # the chart: keys only


def test_keys_of_one_endpoint_each_have_their_estimate_across_keys() -> None:
    """--vary-by user: users' keys call /users/me, logins go out under the address's key, so a
    row of all keys for one endpoint covers whole keys and has their median."""
    live = Live(Documented.resolve())
    users = [saturated(range(0, 8), 10 + i, 20, f"user:{i}") for i in range(3)]
    logins = [record(0.1 + i / 10, 200, LOGIN, "addr:x", remaining=99.0 - i) for i in range(3)]
    live.add(Block.from_records([r for u in users for r in u] + logins))
    rows = by_name(live.view(10.0))
    assert list(rows)[:3] == [(ALL_KEYS, ALL), (ALL_KEYS, ME), (ALL_KEYS, LOGIN)]
    assert ("user:0", ALL) not in rows  # a key of one endpoint: no row of its own for them
    assert rows[(ALL_KEYS, ME)]["enforced"] == 11.0 and rows[(ALL_KEYS, ME)]["saturated"] == 3
    assert rows[(ALL_KEYS, LOGIN)]["enforced"] is None  # whole, but no 429s: nothing yet
    assert rows[(ALL_KEYS, LOGIN)]["saturated"] == 0
    assert rows[("user:2", ME)]["enforced"] == 12.0  # a key's only endpoint: the key's row


def test_one_endpoint_several_keys_has_no_separate_overall_row() -> None:
    live = Live(Documented.resolve())
    live.add(
        Block.from_records(
            saturated(range(0, 6), key="addr:a") + saturated(range(0, 6), 8, key="addr:b")
        )
    )
    view = live.view(8.0)
    assert [(r["key"], r["endpoint"]) for r in view["rows"]] == [
        (ALL_KEYS, ME),
        ("addr:a", ME),
        ("addr:b", ME),
    ]
    assert view["rows"][0]["enforced"] == 9.0 and view["rows"][0]["requests"] == 6 * (40 + 38)


def test_live_adds_up_workers_blocks_exactly() -> None:
    """Blocks of the same seconds from several processes add up to what one block would give:
    the master's view, rows across keys included."""
    one = saturated(range(10, 20), key="addr:a") + saturated(range(12, 16), 5, 9, key="addr:b")
    one += saturated(range(10, 20), 3, 2, key="addr:b", endpoint=LOGIN, offset=0.2)
    together, apart = Live(Documented.resolve("10/s")), Live(Documented.resolve("10/s"))
    together.add(Block.from_records(one))
    for part in (one[0::3], one[1::3], one[2::3]):
        apart.add(Block.from_records(part))
    assert apart.view(30.0) == together.view(30.0)
    keys = [k["key"] for k in together.view(30.0)["keys"]]
    assert keys == ["addr:a", "addr:b"]  # most requests first
    overall = by_name(together.view(30.0))[(ALL_KEYS, ALL)]
    assert overall["requests"] == len(one) and overall["refused"] == 300 + 36 + 20


def test_estimate_waits_for_saturated_seconds_and_old_seconds_are_forgotten() -> None:
    live = Live(Documented.resolve(), keep=60)
    live.add(Block.from_records(saturated(range(0, 2))))
    assert live.view(10.0)["rows"][0]["enforced"] is None  # two seconds with 429s: too few
    live.add(Block.from_records(saturated(range(2, 200, 10), accepted=20)))
    assert min(live.per_second[("addr:a", ME)]) >= 190 - 60
    assert live.view(200.0)["rows"][0]["enforced"] == 20.0
    assert len(live.view(200.0)["keys"][0]["accepted"]) <= KEEP
    live.clear()  # Locust's Reset button
    assert live.view(200.0)["rows"] == [] and live.view(200.0)["keys"] == []


def test_many_keys_rows_are_capped_after_the_rows_across_keys() -> None:
    live = Live(Documented.resolve())
    records = [
        record(1.0 + k / 1000, 200, e, f"addr:{k:03}") for k in range(150) for e in (ME, POSTS)
    ]
    live.add(Block.from_records(records))
    view = live.view(5.0)
    rows = view["rows"]
    assert len(rows) == MAX_ROWS and [r["key"] for r in rows[:3]] == [ALL_KEYS] * 3
    assert rows[0]["requests"] == 300  # every key, not only those listed
    listed = {r["key"] for r in rows}
    assert len(view["keys"]) == MAX_KEYS and {k["key"] for k in view["keys"]} <= listed


def test_live_csv_has_a_line_per_row() -> None:
    live = Live(Documented.resolve())
    live.add(Block.from_records([*saturated(range(0, 5)), record(1.0, 0, endpoint=LOGIN)]))
    lines = to_csv(live.view(10.0)["rows"]).splitlines()
    assert lines[0].startswith("key,endpoint,offered,accepted,limited,requests,refused,errors")
    assert len(lines) == 4 and lines[3].startswith(f"addr:a,{LOGIN},")
    assert lines[3].split(",")[7] == "1"  # no answer: an error


def test_live_csv_names_the_rows_across_keys() -> None:
    live = Live(Documented.resolve())
    live.add(
        Block.from_records(
            saturated(range(0, 6), key="addr:a")
            + saturated(range(0, 6), key="addr:b", endpoint=LOGIN)
            + saturated(range(0, 6), 4, key="addr:b")
        )
    )
    lines = to_csv(live.view(8.0)["rows"]).splitlines()
    header = lines[0].split(",")
    cells = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [(c["key"], c["endpoint"]) for c in cells[:3]] == [
        (ALL_KEYS, ALL),
        (ALL_KEYS, ME),
        (ALL_KEYS, LOGIN),
    ]
    assert cells[0]["enforced"] == "12.0" and cells[0]["remaining"] == ""  # median of 10, 14
    assert cells[1]["enforced"] == "" and cells[1]["requests"] == str(6 * (40 + 34))


def test_the_statuses_a_run_counts_as_refusals_are_limited_in_the_view() -> None:
    """nginx's 503s, told (``--limited-status 429,503``): limited, and the estimate sees the
    saturated seconds; not told: errors, and no estimate."""
    records = [r._replace(status=503) if r.status == 429 else r for r in saturated(range(100, 110))]
    told, untold = (
        Live(Documented.resolve(), limited=frozenset({429, 503})),
        Live(Documented.resolve()),
    )
    for live in (told, untold):
        live.add(Block.from_records(records))
    (row,) = told.view(now=112.0)["rows"]
    assert (row["limited"], row["refused"], row["errors"], row["enforced"]) == (30.0, 300, 0, 10.0)
    assert told.view(now=112.0)["limited_label"] == "limited"
    assert told.view(now=112.0)["limited_status"] == [429, 503]
    (row,) = untold.view(now=112.0)["rows"]
    assert (row["limited"], row["refused"], row["errors"], row["enforced"]) == (0.0, 0, 300, None)
    assert untold.view(now=112.0)["limited_label"] == "429"
