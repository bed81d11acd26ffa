"""``mmload compare``: runs of different configurations side by side, with the difference
flagged, and exit 1 when a run fails where the base passed (one inconclusive where the base
passed is flagged as no longer verified, and is no regression)."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mmload.cli import main
from mmload.report import compare as comparing
from mmload.report import style
from mmload.report.compare_page import COMPARE_HTML, COMPARE_MD, HEAD
from mmload.verdict import schema
from tests.support.folders import synthesized
from tests.support.htmlpage import Page
from tests.support.synth import Plan


def judged(tmp_path: Path, name: str, plan: Plan) -> Path:
    return synthesized(plan, tmp_path / name, judged=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    return {
        "base": judged(tmp, "base", Plan(seconds=20)),
        "same": judged(tmp, "same", Plan(seconds=20, seed=8)),
        "lax": judged(tmp, "lax", Plan(seconds=20, faults=("lax",))),
        "burst": judged(tmp, "burst", Plan(seconds=20, burst=200)),
        "gentle": judged(tmp, "gentle", Plan(seconds=20, per_user=0.2)),  # inconclusive
    }


def run_compare(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["compare", *map(str, args)], out, err)
    return code, out.getvalue(), err.getvalue()


def test_a_server_limiting_at_twice_the_rate_is_flagged_and_fails_the_compare(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    code, out, _ = run_compare(runs["base"], runs["lax"], "--out", tmp_path / "out")
    assert code == 1
    assert "**Regression**: lax fail(s) where the base passed." in out
    page = Page()
    page.feed((tmp_path / "out" / COMPARE_HTML).read_text())
    rows = {row[0]: row for row in page.rows if len(row) == 11}
    assert rows["base"][1] == "PASS" and rows["lax"][1] == "FAIL"
    assert rows["lax"][3].startswith("+") and float(rows["lax"][3].strip("+%")) > 50
    assert rows["lax"][10] == "rate, verdict"
    assert len(page.imgs) == 2
    md = (tmp_path / "out" / COMPARE_MD).read_text()
    assert "| lax | FAIL |" in md
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "throughput.png",
        "offered-vs-accepted.png",
        COMPARE_HTML,
        COMPARE_MD,
    }


def test_a_larger_burst_is_flagged_without_failing_the_compare(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    found = comparing.compare([runs["base"], runs["burst"]])
    row = found.rows[1]
    assert "burst" in row.flags and "rate" not in row.flags
    assert row.passed is False  # documented burst 100, enforced 200
    assert found.regressions == ["burst"]


def test_two_runs_of_one_configuration_differ_in_nothing_flagged(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    code, out, _ = run_compare(runs["base"], runs["same"], "--out", tmp_path / "out")
    assert code == 0, out
    found = comparing.compare([runs["base"], runs["same"]])
    assert found.rows[1].flags == []
    assert found.regressions == []


def test_a_fixed_run_is_flagged_but_is_no_regression(tmp_path: Path, runs: dict[str, Path]) -> None:
    code, out, _ = run_compare(runs["lax"], runs["base"], "--out", tmp_path / "out")
    assert code == 0
    assert "rate, verdict" in out


def test_the_overlay_draws_every_run_against_the_documented_limit(runs: dict[str, Path]) -> None:
    found = comparing.compare([runs["base"], runs["lax"], runs["burst"]])
    lines = {line.get_label(): line for line in comparing.throughput(found).axes[0].get_lines()}
    for name in ("base", "lax", "burst"):
        assert f"{name}: accepted" in lines and f"{name}: limited (429)" in lines
        offered, accepted = lines[f"{name}: offered"], lines[f"{name}: accepted"]
        assert offered.get_linewidth() < accepted.get_linewidth()  # there, but faint
        assert offered.get_color() == accepted.get_color() != style.DOCUMENTED
    assert "documented limit 10/s" in lines
    ax = comparing.offered_vs_accepted(found).axes[0]
    ova = {line.get_label(): line for line in ax.get_lines()}
    assert {"base", "lax", "burst", "ideal: min(offered, 10/s)"} <= set(ova)
    assert ax.get_yscale() == "symlog"  # 400/s offered against 10/s
    for axis, values in (("x", ova["base"].get_xdata()), ("y", ova["burst"].get_ydata())):
        top = getattr(ax, f"get_{axis}lim")()[1]
        ticks = getattr(ax, f"get_{axis}ticks")()
        assert (
            top in ticks and top > 1.2 * np.asarray(values).max()
        )  # ticks to the top; no point on the edge


def test_no_run_takes_the_documented_limits_colour() -> None:
    assert style.DOCUMENTED not in style.RUN_COLOURS


def test_what_changed_is_named_as_the_columns_are(runs: dict[str, Path], tmp_path: Path) -> None:
    found = comparing.compare([runs["base"], runs["lax"]], comparing.Limits(tolerance=0.001))
    assert "429 share" in found.rows[1].flags
    assert set(found.rows[1].flags) <= set(HEAD)
    _, out, _ = run_compare(runs["base"], runs["lax"], "--tolerance", "0.001", "--out", tmp_path)
    assert "429 share" in out and "limited_share" not in out


def test_compare_needs_two_run_folders(tmp_path: Path, runs: dict[str, Path]) -> None:
    code, _, err = run_compare(runs["base"], "--out", tmp_path / "out")
    assert code == 2 and "at least two run folders" in err
    code, _, err = run_compare(runs["base"], tmp_path, "--out", tmp_path / "out")
    assert code == 2 and "is not a run folder" in err


def test_a_run_no_longer_verified_is_flagged_but_is_no_regression(
    tmp_path: Path, runs: dict[str, Path]
) -> None:
    """A hammer too gentle to reach the limit decides nothing it set out to: where the base
    passed, that is flagged, and the compare still exits 0, for nothing failed."""
    code, out, _ = run_compare(runs["base"], runs["gentle"], "--out", tmp_path / "out")
    assert code == 0, out
    found = comparing.compare([runs["base"], runs["gentle"]])
    row = found.rows[1]
    assert (row.outcome, row.heading, row.passed) == ("inconclusive", "INCONCLUSIVE", False)
    assert comparing.UNVERIFIED in row.flags and "verdict" not in row.flags
    assert found.regressions == [] and found.unverified == ["gentle"]
    assert "**No longer verified**: gentle inconclusive where the base passed" in out
    assert "**Regression**" not in out
    text = (tmp_path / "out" / COMPARE_HTML).read_text()
    assert '<div class="verdict INCONCLUSIVE"><b>No longer verified</b> — gentle' in text
    page = Page()
    page.feed(text)
    rows = {row[0]: row for row in page.rows if len(row) == 11}
    assert rows["gentle"][1] == "INCONCLUSIVE"
    assert comparing.UNVERIFIED in rows["gentle"][10].split(", ")
    # the other way round: a run verified where the base could not say is a change of verdict
    back = comparing.compare([runs["gentle"], runs["base"]])
    assert "verdict" in back.rows[1].flags and comparing.UNVERIFIED not in back.rows[1].flags
    assert back.regressions == back.unverified == []


def test_a_rate_is_flagged_only_when_it_surely_moved(tmp_path: Path, runs: dict[str, Path]) -> None:
    """The point estimates moved by 8%, beyond the 5% tolerance, but each rate surely lies in
    an interval the other's overlaps: no rate change; apart, it is one."""
    unsure = shutil.copytree(runs["same"], tmp_path / "unsure")
    verdict = schema.read(unsure)
    assert verdict is not None
    wide = replace(verdict.measured, rate_per_s=10.8, rate_low=9.5, rate_high=12.0)
    schema.write_json(unsure, replace(verdict, measured=wide))
    row = comparing.compare([runs["base"], unsure]).rows[1]
    assert row.deltas["rate"] == "+8.0% (within the intervals)"
    assert "rate" not in row.flags
    apart = replace(wide, rate_low=10.7, rate_high=10.9)
    schema.write_json(unsure, replace(verdict, measured=apart))
    row = comparing.compare([runs["base"], unsure]).rows[1]
    assert row.deltas["rate"] == "+8.0%" and "rate" in row.flags
