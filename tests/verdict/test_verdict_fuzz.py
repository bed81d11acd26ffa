"""The verdict on malformed run folders never raises: whatever the records hold (odd statuses,
absurd header values, times out of order, one request or none) and however damaged the folder
(no run.json, a truncated records file), it gives a verdict."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmload.results.block import Block
from mmload.results.record import Record
from mmload.results.records_file import RECORDS_BIN, RecordsWriter
from mmload.verdict import verify
from mmload.verdict.output import junit, markdown, text

numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-5, max_value=10**12).map(float),
)
records = st.builds(
    Record,
    sent=st.floats(min_value=-1e10, max_value=1e10, allow_nan=False),
    latency_ms=st.floats(min_value=0, max_value=1e6),
    endpoint=st.sampled_from(["GET /api/v4/users/me", "POST /api/v4/users/login", "x"]),
    status=st.sampled_from([0, 200, 201, 401, 429, 429, 500, 999]),
    key=st.sampled_from(["addr:1", "token:2", ""]),
    user=st.sampled_from(["token:a", "token:b", ""]),
    source=st.sampled_from(["addr:1", "addr:2", ""]),
    limit=numbers,
    remaining=numbers,
    reset=numbers,
    retry_after=numbers,
    window=numbers,
    policy=st.sampled_from(["", "default"]),
    dialect=st.sampled_from(["", "mattermost", "epoch", "ietf"]),
    date=numbers,
    error=st.sampled_from(["", "malformed x-ratelimit-limit: '1_0'"]),
)


def folder_of(tmp: Path, rows: list[Record], cut: int) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    writer = RecordsWriter(tmp / RECORDS_BIN, max_records=10**6)
    writer.add_block(Block.from_records(rows))
    writer.add_block(Block.from_records(rows[: len(rows) // 2]))
    writer.close()
    data = (tmp / RECORDS_BIN).read_bytes()
    (tmp / RECORDS_BIN).write_bytes(data[: max(0, len(data) - cut)])  # maybe cut mid-frame
    return tmp


RUN_JSONS = [
    None,
    "{",
    "[]",
    '{"settings": {"documented_limit": 7}}',
    '{"settings": {"documented_limit": {"per_sec": 0}}}',
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(records, max_size=60), cut=st.integers(0, 40), run_json=st.sampled_from(RUN_JSONS)
)
def test_the_verdict_never_raises(rows: list[Record], cut: int, run_json: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_verdict(folder_of(Path(tmp), rows, cut), run_json)


def check_verdict(folder: Path, run_json: str | None) -> None:
    if run_json is not None:
        (folder / "run.json").write_text(run_json)
    v = verify(folder)
    assert isinstance(v.passed, bool) and v.summary
    assert len(v.checks) == len({c.id for c in v.checks}) >= 10
    for check in v.checks:
        assert check.passed in (True, False, None)
    rate = v.measured.rate_per_s
    assert rate is None or (math.isfinite(rate) and rate >= 0)
    junit(v), markdown(v, "fuzz"), text(v)  # the writers take anything the verdict gives
