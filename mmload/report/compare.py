"""Runs side by side: the first is the base, each other run's figures get a delta against it,
and a change beyond tolerance is flagged.  A run whose verdict went from pass to fail is a
regression (``mmload compare`` exits 1); one that went from pass to inconclusive is flagged as no
longer verified, which is no regression: nothing failed, the run just could not say."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mmload import defaults
from mmload.report import figures, style
from mmload.report.data import RunView, ensure_verdict, load, rate_interval, rates, record_stats
from mmload.verdict.output import heading
from mmload.verdict.schema import FAIL, INCONCLUSIVE, PASS


@dataclass(frozen=True)
class Limits:
    """How far a figure may move before it is flagged."""

    tolerance: float = defaults.TOLERANCE  # rate and burst: relative; the 429 share: absolute
    latency: float = 0.5  # p95 latency: relative growth


@dataclass
class Row:
    name: str
    outcome: str | None  # pass, fail or inconclusive; None: no verdict
    heading: str  # PASS, FAIL, INCONCLUSIVE or "no verdict"
    rate: float | None
    rate_range: tuple[float, float] | None  # where the rate surely lies (high: inf, unbounded)
    burst: float | None
    limited_share: float | None
    p95_ms: float | None
    summary: str
    deltas: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        return None if self.outcome is None else self.outcome == PASS


MEASURES = ("rate", "burst", "limited_share", "p95_ms")  # what a row compares
HEADINGS = {"limited_share": "429 share", "p95_ms": "p95 accepted"}  # a measure's column
UNVERIFIED = "no longer verified"  # the flag of a run inconclusive where the base passed


@dataclass
class Comparison:
    views: list[RunView]
    rows: list[Row]

    @property
    def regressions(self) -> list[str]:
        """Runs that fail where the base passed."""
        base = self.rows[0]
        return [r.name for r in self.rows[1:] if base.passed and r.outcome == FAIL]

    @property
    def unverified(self) -> list[str]:
        """Runs that are inconclusive where the base passed: no regression, but no pass."""
        base = self.rows[0]
        return [r.name for r in self.rows[1:] if base.passed and r.outcome == INCONCLUSIVE]


def compare(folders: list[Path], limits: Limits | None = None) -> Comparison:
    limits = limits or Limits()
    views = [ensure_verdict(load(f)) for f in folders]
    names = _names(folders)
    rows = []
    for view, name in zip(views, names, strict=True):
        rows.append(_row(view, name))
    for row in rows[1:]:
        _judge_change(rows[0], row, limits)
    return Comparison(views, rows)


def _names(folders: list[Path]) -> list[str]:
    names = [f.name for f in folders]
    if len(set(names)) == len(names):
        return names
    return [str(f) for f in folders]


def _row(view: RunView, name: str) -> Row:
    totals = view.run.get("totals") or {}
    offered = totals.get("offered") or view.total("offered")
    limited = totals.get("limited") or view.total("limited")
    m, v = view.measured, view.verdict
    return Row(
        name=name,
        outcome=view.outcome,
        heading="no verdict" if v is None else heading(v),
        rate=m.rate_per_s,
        rate_range=rate_interval(m),
        burst=m.burst,
        limited_share=(limited / offered) if offered else None,
        p95_ms=record_stats(view, keys=0).latency_p95.get("accepted"),
        summary="no verdict" if v is None else v.summary,
    )


def _judge_change(base: Row, row: Row, limits: Limits) -> None:
    for name in MEASURES:
        a, b = getattr(base, name), getattr(row, name)
        if a is None or b is None:
            row.deltas[name] = "" if a is None and b is None else "n/a"
            continue
        if name == "limited_share":
            change = b - a
            row.deltas[name] = f"{change * 100:+.1f} pp"
            moved = abs(change) > limits.tolerance
        else:
            change = (b - a) / a if a else (0.0 if b == a else float("inf"))
            row.deltas[name] = f"{change:+.1%}"
            moved = change > limits.latency if name == "p95_ms" else abs(change) > limits.tolerance
        if moved and name == "rate" and not _apart(base.rate_range, row.rate_range, a, limits):
            row.deltas[name] += " (within the intervals)"
            moved = False
        if moved:
            row.flags.append(HEADINGS.get(name, name))
    if base.outcome is not None and row.outcome is not None and base.outcome != row.outcome:
        row.flags.append(UNVERIFIED if base.passed and row.outcome == INCONCLUSIVE else "verdict")


def _apart(
    base: tuple[float, float] | None, run: tuple[float, float] | None, rate: float, limits: Limits
) -> bool:
    """The rate surely moved beyond tolerance: the intervals the two rates surely lie in are
    further apart than the tolerance allows (one unknown: the point estimates decide)."""
    if base is None or run is None:
        return True
    gap = max(run[0] - base[1], base[0] - run[1])
    return gap > limits.tolerance * rate


# each run's series in the overlay: (column, label, how it is drawn), offered faint
SERIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("offered", "offered", {"linewidth": 0.9, "alpha": 0.55}),
    ("accepted", "accepted", {"linewidth": 1.8}),
    ("limited", "limited (429)", {"linewidth": 1, "linestyle": "--"}),
)


def throughput(c: Comparison) -> Figure:
    fig, (ax,) = style.figure()
    high = end = 1.0
    for n, view in enumerate(c.views):
        colour = style.RUN_COLOURS[n % len(style.RUN_COLOURS)]
        t, cols = rates(view)
        name = c.rows[n].name
        for column, label, look in SERIES:
            ax.step(t, cols[column], where="post", color=colour, label=f"{name}: {label}", **look)
        high = max(high, float(np.nanmax(cols["offered"], initial=1.0)))
        end = max(end, float(t[-1]) if len(t) else 1.0)
    documented = _documented_rates(c)
    for rate in documented:
        style.documented_line(ax, rate, linestyle=":")  # dashed lines are the runs' 429s
    style.per_second_axis(ax, high, min(documented, default=1.0))
    ax.set_xlim(0, end)
    ax.set_xlabel("time from each run's start (s)")
    ax.set_ylabel("requests per second")
    style.legend_below(fig, ax, columns=6, group=3)  # a column per run, one for the limits
    style.title(
        fig,
        f"Throughput of {len(c.views)} runs (base: {c.rows[0].name})",
        "; ".join(f"{r.name}: {r.heading}" for r in c.rows),
    )
    return fig


def offered_vs_accepted(c: Comparison) -> Figure:
    fig, (ax,) = style.figure()
    high = accepted = 1.0
    for n, view in enumerate(c.views):
        points = figures.windows(view)
        if points:
            x, y, _ = zip(*points, strict=True)
            ax.plot(
                x,
                y,
                marker="o",
                linestyle="-",
                linewidth=0.8,
                alpha=0.85,
                color=style.RUN_COLOURS[n % len(style.RUN_COLOURS)],
                label=c.rows[n].name,
            )
            high, accepted = max(high, *x), max(accepted, *y)
    figures.ideal_axes(ax, _documented_rates(c), high, accepted)
    ax.set_xlabel("offered (requests per second)")
    ax.set_ylabel("accepted (requests per second)")
    style.legend_below(fig, ax, columns=3)
    style.title(fig, "Accepted against offered, per step or window")
    return fig


def _documented_rates(c: Comparison) -> list[float]:
    return sorted({r for v in c.views if (r := v.documented_rate)})
