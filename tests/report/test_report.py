"""``mmload report``: the figures show what the run folder holds, the page shows the verdict.

Run folders are synthesized (the reference server's limiter on a virtual clock), so each test
takes well under a second; the live path (a real run writes its report) is in
tests/live/test_verdict_live.py.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PathCollection

from mmload.cli import main
from mmload.report import FIGURES, REPORT_HTML, figures, headers, page, style, write_report
from mmload.report.data import RunView, load, rates, record_stats
from mmload.results.folder import KEYS_CSV
from mmload.verdict import schema
from mmload.verdict.output import status
from mmload.verdict.schema import Verdict
from tests.support.folders import synthesized
from tests.support.htmlpage import Page
from tests.support.synth import Plan


def judged(tmp_path: Path, plan: Plan, name: str = "run") -> Path:
    return synthesized(plan, tmp_path / name, judged=True)


def rewritten(folder: Path, change: Callable[[Verdict], Verdict]) -> Path:
    """The folder, its verdict changed as a verdict of another run could have been."""
    found = schema.read(folder)
    assert found is not None
    schema.write_json(folder, change(found))
    return folder


def lines_by_label(ax) -> dict[str, Any]:
    return {line.get_label(): line for line in ax.get_lines()}


def hammer_throughput(tmp_path: Path) -> tuple[RunView, Any, Any, dict[str, Any]]:
    """A judged hammer's view, its throughput figure, the figure's axes and lines by label."""
    view = load(judged(tmp_path, Plan()))
    fig = figures.throughput(view)
    return view, fig, fig.axes[0], lines_by_label(fig.axes[0])


def test_throughput_shows_offered_accepted_limited_and_the_documented_limit(
    tmp_path: Path,
) -> None:
    view, fig, ax, lines = hammer_throughput(tmp_path)
    limit = lines["documented limit 10/s"]
    assert set(limit.get_ydata()) == {10.0}  # the documented value, as a horizontal line
    accepted = np.asarray(lines["accepted"].get_ydata())[:-1]  # the last point closes a step
    assert accepted.tolist() == view.columns["accepted"].tolist()
    limited = np.asarray(lines["limited (429)"].get_ydata())[:-1]
    assert limited.sum() == view.total("limited") > 0
    assert any(label.startswith("enforced (measured) 10/s") for label in lines)
    assert any(c.get_label() == "offered" for c in ax.collections)
    title = fig.get_suptitle()
    assert "PASS: enforced 10/s, burst 100 (documented 10/s, burst 100)" in title
    assert "errors" not in lines  # no error, no line
    notes = [t.get_text() for t in ax.texts]
    assert any(re.fullmatch(r"burst: \d+ accepted in 1 s", n) for n in notes), notes
    assert ax.get_xlabel() == "time from the run's start (s)"
    assert ax.get_ylabel() == "requests per second"


def test_the_limit_lines_stay_apart_and_the_log_scale_has_ticks_to_its_top(
    tmp_path: Path,
) -> None:
    view, fig, ax, lines = hammer_throughput(tmp_path)
    documented = lines["documented limit 10/s"]
    enforced = next(line for label, line in lines.items() if label.startswith("enforced"))
    assert documented.get_zorder() > lines["accepted"].get_zorder() > enforced.get_zorder()
    assert enforced.get_linewidth() > 3 * documented.get_linewidth()  # a band, not a line
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:4] == ["offered", "accepted", "limited (429)", "documented limit 10/s"]
    assert legend[4].startswith("enforced (measured) 10/s (") and len(legend) == 5
    fig.draw_without_rendering()
    columns = {round(t.get_window_extent().x0) for t in fig.legends[0].get_texts()}
    assert len(columns) == 3  # 3 + 2, not 4 + 1
    assert ax.get_yscale() == "symlog"  # 400/s offered against 10/s
    top = ax.get_ylim()[1]
    assert top in ax.get_yticks() and top > np.nanmax(view.columns["offered"])
    burst = next(t for t in ax.texts if t.get_text().startswith("burst"))
    assert burst.get_bbox_patch() is None  # no box hiding the lines behind it
    assert any(p.get_hatch() == "///" for p in ax.patches)  # the logins, shaded
    assert "logins" in [t.get_text() for t in ax.texts]


def test_the_limit_lines_of_four_buckets_are_readable(tmp_path: Path) -> None:
    view = load(judged(tmp_path, Plan(sources=4, users=4)))
    assert view.measured.buckets == 4
    ax = figures.throughput(view).axes[0]
    lines = lines_by_label(ax)
    four = lines["documented × 4 buckets = 40/s"]
    assert set(four.get_ydata()) == {40.0} and four.get_zorder() > lines["accepted"].get_zorder()
    assert ax.get_yscale() == "symlog"  # 10/s and 40/s apart, under 400/s offered


@pytest.mark.parametrize(("seconds", "width"), [(20.5, 0.5), (20.1, None)])
def test_a_last_second_cut_short_is_a_rate_over_its_length_or_left_out(
    tmp_path: Path, seconds: float, width: float | None
) -> None:
    view = load(judged(tmp_path, Plan(seconds=seconds)))
    record_stats(view)  # what says when the last request was sent
    t = np.asarray(lines_by_label(figures.throughput(view).axes[0])["accepted"].get_xdata())
    offered = rates(view)[1]["offered"]
    if width is None:  # 0.1 s: too short to be a rate
        assert t[-1] == view.t[-1]
    else:
        assert t[-1] - t[-2] == pytest.approx(width, abs=0.01)
        assert offered[-2] == pytest.approx(offered[-3], rel=0.1)  # not a collapse


def test_a_faulty_server_is_a_fail_in_the_title_and_its_measured_rate_is_drawn(
    tmp_path: Path,
) -> None:
    view = load(judged(tmp_path, Plan(faults=("lax",))))
    fig = figures.throughput(view)
    assert fig.get_suptitle().splitlines()[1].startswith("FAIL: enforced ")
    measured = view.measured.rate_per_s
    assert measured is not None
    lines = lines_by_label(fig.axes[0])
    enforced = [line for label, line in lines.items() if label.startswith("enforced")]
    assert enforced[0].get_ydata()[0] == pytest.approx(measured)
    assert measured > 10 * 1.05


def enforced_interval(ax) -> tuple[float, float]:
    """Where the throughput figure's band says the enforced rate surely lies."""
    (band,) = [p for p in ax.patches if p.get_gid() == style.INTERVAL]
    ys = band.get_patch_transform().transform(band.get_path().vertices)[:, 1]
    return float(ys.min()), float(ys.max())


def test_the_enforced_band_spans_where_the_rate_surely_lies(tmp_path: Path) -> None:
    """Two nodes behind a balancer each limit on their own: the rate (about 20/s) is measured
    unsurely, and the band spans the whole interval it surely lies in, about the estimate."""
    view = load(judged(tmp_path, Plan(servers=2)))
    m = view.measured
    assert m.rate_per_s is not None and m.rate_low is not None and m.rate_high is not None
    assert m.rate_high - m.rate_low > 4  # wide enough to see
    ax = figures.throughput(view).axes[0]
    assert enforced_interval(ax) == pytest.approx((m.rate_low, m.rate_high))
    label = f"enforced (measured) 20/s ({m.rate_low:.4g}..{m.rate_high:.4g}/s)"
    assert label in lines_by_label(ax)


@pytest.mark.parametrize(
    ("low", "high", "drawn", "words"),
    [
        (15.0, None, (15.0, 20.0), "(at least 15/s)"),  # nothing bounds it above
        (None, None, (17.0, 23.0), "(17..23/s)"),  # written before intervals: ± uncertainty
    ],
)
def test_an_enforced_rate_without_an_upper_bound_is_drawn_up_to_its_estimate(
    tmp_path: Path,
    low: float | None,
    high: float | None,
    drawn: tuple[float, float],
    words: str,
) -> None:
    def unbounded(v: Verdict) -> Verdict:
        measured = replace(
            v.measured, rate_per_s=20.0, rate_low=low, rate_high=high, rate_uncertainty=3.0
        )
        return replace(v, measured=measured)

    view = load(rewritten(judged(tmp_path, Plan()), unbounded))
    ax = figures.throughput(view).axes[0]
    assert enforced_interval(ax) == pytest.approx(drawn)
    assert f"enforced (measured) 20/s {words}" in lines_by_label(ax)
    assert math.isfinite(ax.get_ylim()[1])


def test_offered_vs_accepted_has_the_ideal_knee_on_the_documented_limit(tmp_path: Path) -> None:
    plan = Plan(scenario="steady", factor=0.5, seconds=30)
    view = load(judged(tmp_path, plan))
    ax = figures.offered_vs_accepted(view).axes[0]
    knee = lines_by_label(ax)["knee: documented limit 10/s"]
    assert set(knee.get_xdata()) == {10.0}
    ideal = lines_by_label(ax)["ideal: min(offered, 10/s)"]
    x, y = np.asarray(ideal.get_xdata()), np.asarray(ideal.get_ydata())
    assert np.allclose(y, np.minimum(x, 10.0))
    means = figures.windows(view)
    assert len(means) >= 5
    for offered, accepted, _ in means:  # below the limit: everything offered is accepted
        assert offered == pytest.approx(5.0, rel=0.25)
        assert accepted == pytest.approx(offered, rel=0.05)


def test_offered_vs_accepted_of_four_buckets_says_so_everywhere(tmp_path: Path) -> None:
    fig = figures.offered_vs_accepted(load(judged(tmp_path, Plan(sources=4, users=4))))
    labels = set(lines_by_label(fig.axes[0]))
    assert {"ideal: min(offered, 40/s = 4 × 10/s)", "knee: documented limit 10/s × 4 buckets"} <= (
        labels
    )
    assert "the documented limit × 4 buckets (40/s)" in fig.get_suptitle()
    seconds = fig.axes[0].collections[0]
    assert isinstance(seconds, PathCollection) and seconds.get_label() == "one second"
    assert seconds.get_sizes()[0] >= 16
    top = fig.axes[0].get_xlim()[1]
    assert top in fig.axes[0].get_xticks() and top > 1.2 * 400  # no point on the edge


def test_the_steps_of_a_stepped_run_are_the_points_of_offered_vs_accepted(tmp_path: Path) -> None:
    folder = judged(tmp_path, Plan(scenario="hammer"))
    run = json.loads((folder / "run.json").read_text())
    run["steps"] = {"start": run["load_started"] + 1.0, "seconds": 4.0, "factors": [1, 2, 3, 4]}
    (folder / "run.json").write_text(json.dumps(run))
    view = load(folder)
    points = figures.windows(view)
    origin = run["load_started"] + 1.0 - view.start
    assert [start for _, _, start in points] == pytest.approx([origin + 4 * k for k in range(4)])
    step_seconds = view.t[(view.t >= origin) & (view.t + 1 <= origin + 4)]
    offered = view.columns["offered"][np.isin(view.t, step_seconds)]
    assert points[0][0] == pytest.approx(offered.mean())  # seconds wholly inside the step


def test_a_short_run_whose_load_starts_mid_second_has_its_windows(tmp_path: Path) -> None:
    """Windows of one second begin on whole seconds, not where the load did (mid-second), so
    a 6 s hammer has points in offered-vs-accepted: at least three, about 10/s past the
    burst."""
    folder = judged(tmp_path, Plan(seconds=6))
    run = json.loads((folder / "run.json").read_text())
    run["load_started"] += 0.78
    (folder / "run.json").write_text(json.dumps(run))
    view = load(folder)
    points = figures.windows(view)
    assert len(points) >= 3, points
    assert all(start == int(start) for _, _, start in points)  # whole seconds
    assert all(abs(accepted - 10) <= 1 for _, accepted, _ in points[1:])  # past the burst


def test_headers_show_remaining_limit_reset_and_retry_after_per_key(tmp_path: Path) -> None:
    view = load(judged(tmp_path, Plan(sources=4, users=4)))
    stats = record_stats(view)
    assert len(stats.keys) == 3  # the busiest three of four keys
    fig = headers.figure(view, stats)
    first = fig.axes[0]
    assert lines_by_label(first)["Limit"].get_ydata()[~np.isnan(stats.keys[0].limit)][0] == 101
    assert np.nanmin(stats.keys[0].remaining_min) == 0
    assert np.nanmax(stats.keys[0].remaining_max) == 100
    assert len(stats.keys[0].retry_t) > 0
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["Remaining (range)", "Limit", "Reset (s)", "Retry-After sent (s)"]
    shown = [re.match(r"key \d: (\S+) ", ax.get_title(loc="left")) for ax in fig.axes[:3]]
    keys = [m.group(1) for m in shown if m]
    with open(view.folder / KEYS_CSV, newline="") as f:
        listed = {row["key"] for row in csv.DictReader(f)}
    assert len(set(keys)) == 3 and set(keys) <= listed  # as keys.csv says
    assert first.get_ylim()[0] < 0  # a Remaining of 0 is above the axis
    retry = fig.axes[3].collections[0]  # the first key's right axis
    assert (
        retry.get_label() == "Retry-After sent (s)" and len(np.asarray(retry.get_offsets())) <= 120
    )


def test_a_long_key_keeps_both_ends() -> None:
    key = "user:" + "a" * 40 + "XYZ"
    shown = headers.key_label(key)
    assert shown.startswith("user:aaa") and shown.endswith("aaXYZ") and "…" in shown
    assert len(shown) <= headers.KEY_CHARS and headers.key_label("addr:000000000001") == (
        "addr:000000000001"
    )


def test_an_epoch_reset_is_drawn_as_seconds_from_the_response(tmp_path: Path) -> None:
    view = load(judged(tmp_path, Plan(dialect="epoch")))
    key = record_stats(view).keys[0]
    assert key.reset_is_epoch
    assert np.nanmin(key.reset) >= 0 and np.nanmax(key.reset) <= 12


def test_latency_draws_accepted_and_limited_quantiles(tmp_path: Path) -> None:
    view = load(judged(tmp_path, Plan()))
    labels = set(lines_by_label(figures.latency(view).axes[0]))
    assert labels == {"accepted p50", "accepted p95", "limited p50", "limited p95"}


def test_latency_is_scaled_to_the_load_not_to_the_logins(tmp_path: Path) -> None:
    view = load(judged(tmp_path, Plan()))
    assert view.t[0] < view.load_t  # the first second holds the logins only
    view.columns["accepted_p95_ms"][0] = 10.0  # a slow first login; the load takes 1 ms
    ax = figures.latency(view).axes[0]
    assert ax.get_yscale() == "linear" and 1.0 < ax.get_ylim()[1] < 2.0


def test_the_page_has_the_verdict_every_check_and_embedded_figures(tmp_path: Path) -> None:
    folder = judged(tmp_path, Plan(faults=("lax",)))
    written = write_report(folder)
    assert [p.name for p in written] == [*(f"{f}.png" for f in FIGURES), REPORT_HTML]
    text = (folder / REPORT_HTML).read_text()
    assert '<div class="verdict FAIL"><b>FAIL</b>' in text
    page = Page()
    page.feed(text)
    verdict = schema.read(folder)
    assert verdict is not None
    by_id = {row[1]: row[0] for row in page.rows if len(row) == 5}
    for check in verdict.checks:
        assert by_id[check.id] == status(check, verdict.strict), check.id
    assert by_id["rate-matches-documented"] == "FAIL"
    assert by_id["retry-after-honest"] == "undecided"  # a hammer cannot tell: not n/a
    assert by_id["mattermost-responses"] == "n/a"
    table = {row[0]: row[1:] for row in page.rows if len(row) == 4}
    assert table["rate"][0] == "10/s"
    m = verdict.measured
    assert m.rate_per_s is not None and m.rate_low is not None and m.rate_high is not None
    assert table["rate"][2].startswith(f"{m.rate_per_s:.4g}/s (surely {m.rate_low:.4g}..")
    assert len(page.imgs) == len(FIGURES)
    assert all(str(img["src"]).startswith("data:image/png;base64,") for img in page.imgs)
    assert "script" not in page.tags  # nothing runs, nothing is fetched
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)


def test_an_inconclusive_run_says_so_with_its_notes_and_what_it_did_not_verify(
    tmp_path: Path,
) -> None:
    """A hammer too gentle to reach the limit is no pass: the banner says INCONCLUSIVE in a
    colour of its own, with the verdict's notes under it and every check it could not decide;
    in the checks, those undecided are told from those that do not apply."""
    note = "503s in a rate limiter's pattern: run again with --limited-status 429,503"
    folder = judged(tmp_path, Plan(scenario="hammer", per_user=0.2))
    verdict = schema.read(rewritten(folder, lambda v: replace(v, notes=(note,))))
    assert verdict is not None and verdict.outcome == "inconclusive"
    write_report(folder)
    text = (folder / REPORT_HTML).read_text()
    assert '<div class="verdict INCONCLUSIVE"><b>INCONCLUSIVE</b> — the server refused ' in text
    assert ".INCONCLUSIVE{" in text and "PASS</b>" not in text and "FAIL</b>" not in text
    banner = text.index("<b>INCONCLUSIVE</b>")
    assert banner < text.index(f"<li>{html.escape(note)}</li>") < text.index("<h2>Checks</h2>")
    shown = re.search(r'<p class="unverified"><b>Not verified:</b> ([^<]*)\.</p>', text)
    assert shown is not None and shown.group(1).split(", ") == list(verdict.not_verified)
    found = Page()
    found.feed(text)
    by_id = {row[1]: row[0] for row in found.rows if len(row) == 5}
    assert by_id["rate-matches-documented"] == "undecided"  # the hammer set out to decide it
    assert by_id["retry-after-honest"] == "n/a"  # nothing was refused: nothing to decide
    assert 'class="badge b-undecided"' in text and 'class="badge b-na"' in text
    title = figures.throughput(load(folder)).get_suptitle().splitlines()[1]
    assert title.startswith("INCONCLUSIVE: no rate measured (documented 10/s, burst 100); ")
    assert "not decided" in title


def test_the_verdict_s_own_notes_come_under_its_banner(tmp_path: Path) -> None:
    """nginx's limit_req refuses with 503 unless told otherwise: the verdict notes the pattern
    and says how to run again, and the page shows it before the checks."""
    folder = judged(tmp_path, Plan(refuse_status=503))
    verdict = schema.read(folder)
    assert verdict is not None and "--limited-status 429,503" in verdict.notes[0]
    write_report(folder)
    text = (folder / REPORT_HTML).read_text()
    shown = text.index(f"<li>{html.escape(verdict.notes[0])}</li>")
    assert text.index('<div class="verdict FAIL">') < shown < text.index("<h2>Checks</h2>")


def test_a_failed_check_s_likely_cause_is_beside_its_message(tmp_path: Path) -> None:
    folder = judged(tmp_path, Plan(servers=2))
    verdict = schema.read(folder)
    assert verdict is not None
    failed = verdict.check("rate-matches-documented")
    assert failed.passed is False and "per-node limiting" in failed.diagnosis
    write_report(folder)
    found = Page()
    found.feed((folder / REPORT_HTML).read_text())
    messages = {row[1]: row[4] for row in found.rows if len(row) == 5}
    assert messages[failed.id].startswith(failed.message)
    assert messages[failed.id].endswith(f"likely cause: {failed.diagnosis}")
    assert "likely cause" not in messages["no-limiting-below-limit"]  # it passed


def test_a_folder_without_a_verdict_gets_one_computed_and_says_so(tmp_path: Path) -> None:
    folder = synthesized(Plan(), tmp_path / "run")
    write_report(folder)
    text = (folder / REPORT_HTML).read_text()
    assert '<div class="verdict PASS">' in text
    assert "the folder has no verdict.json" in text
    assert not (folder / "verdict.json").exists()


def test_an_outage_is_shaded_and_noted(tmp_path: Path) -> None:
    folder = judged(tmp_path, Plan())
    rows = (folder / "timeline.csv").read_text().splitlines()
    head = rows[0].split(",")
    cells = rows[5].split(",")
    offered = cells[head.index("offered")]
    for column, value in (("accepted", "0"), ("limited", "0"), ("errors", offered)):
        cells[head.index(column)] = value
    rows[5] = ",".join(cells)
    (folder / "timeline.csv").write_text("\n".join(rows) + "\n")
    run = json.loads((folder / "run.json").read_text())
    run["notes"] = ["the target did not answer for 1 s"]
    (folder / "run.json").write_text(json.dumps(run))
    ax = figures.throughput(load(folder)).axes[0]
    assert "no answer" in [p.get_label() for p in ax.patches]
    write_report(folder)
    assert "<li>the target did not answer for 1 s</li>" in (folder / REPORT_HTML).read_text()


def test_a_lost_worker_is_one_note_and_the_run_is_impaired_as_run_json_says(
    tmp_path: Path,
) -> None:
    folder = judged(tmp_path, Plan())
    run = json.loads((folder / "run.json").read_text())
    lost = (
        "worker index 1 (host vm, pid 20540, id vm_fda079c3) was lost: Locust's master marked it "
        "missing at 06:28:03 UTC (no heartbeat); it was last heard from at 06:27:59 UTC, 1.8 s "
        "into the load. The run went on without it and its users; what it sent after its last "
        "batch is not in the run folder."
    )
    reason = (
        "2 worker(s) lost, or silent at the end: what they sent after their last batch is not "
        "in the run folder (see notes)"
    )
    run |= {
        "missing_workers": ["vm_fda079c3", "vm_silent"],
        "notes": [lost],
        "exit": {"code": 3, "reason": reason},
        "status": "finished",
    }
    (folder / "run.json").write_text(json.dumps(run))
    write_report(folder)
    notes = page.notes(load(folder))
    impaired = "the run finished but was impaired (exit code 3): 2 worker(s) lost, or silent"
    assert notes[0] == impaired + " at the end (below)"
    assert not any("could not be done" in n for n in notes)
    assert [n for n in notes if "vm_fda079c3" in n] == [lost]  # once, as the harness said it
    assert [n for n in notes if "vm_silent" in n] == [
        "worker vm_silent was lost or sent no last batch: what it sent after its last batch is "
        "not in the run folder"
    ]  # a worker run.json lists without a note gets one
    text = (folder / REPORT_HTML).read_text()
    assert text.count("vm_fda079c3") == 1 and "could not be done" not in text


def test_a_run_that_could_not_be_done_says_why_once(tmp_path: Path) -> None:
    folder = judged(tmp_path, Plan())
    run = json.loads((folder / "run.json").read_text())
    run |= {"status": "failed", "exit": {"code": 3, "reason": "no login succeeded (4 attempts)"}}
    (folder / "run.json").write_text(json.dumps(run))
    assert page.notes(load(folder)) == [
        "the run could not be done: no login succeeded (4 attempts)"
    ]


def test_mmload_report_refuses_what_is_not_a_run_folder(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["report", str(tmp_path)], out, err) == 2
    assert "is not a run folder" in err.getvalue()


def test_mmload_report_prints_the_page_it_wrote(tmp_path: Path) -> None:
    folder = judged(tmp_path, Plan())
    out, err = io.StringIO(), io.StringIO()
    assert main(["report", str(folder)], out, err) == 0
    assert out.getvalue().strip() == f"mmload report: {folder / REPORT_HTML}"
