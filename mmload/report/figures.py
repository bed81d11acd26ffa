"""The figures of one run's report, each a function of a :class:`RunView` to a Figure.

The picture the project exists for is :func:`throughput`: offered, accepted and refused
requests per second against the documented limit.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mmload.report import style
from mmload.report.data import RecordStats, RunView

WINDOWS = 15  # offered-vs-accepted: about this many points when the run has no steps


def verdict_line(view: RunView) -> str:
    if view.verdict is None:
        return "no verdict"
    head = "PASS" if view.passed else "FAIL"
    m, doc = view.measured, view.documented
    enforced = f"enforced {style.rate(m.get('rate_per_s'))}"
    if m.get("burst") is not None:
        enforced += f", burst {m['burst']}"
    documented = f"documented {style.rate(doc.get('per_sec'))}"
    if doc.get("burst") is not None:
        documented += f", burst {doc['burst']}"
    return f"{head}: {enforced} ({documented})"


def headline(view: RunView) -> str:
    run = view.run
    parts = [run.get("scenario") or "run", run.get("host") or "", view.name]
    return " · ".join(p for p in parts if p)


def _buckets(view: RunView) -> int:
    found = view.measured.get("buckets")
    return int(found) if isinstance(found, (int, float)) and found > 1 else 1


def limit_lines(ax: Axes, view: RunView) -> None:
    """The documented limit (times the buckets the verdict found, when more than one), and the
    enforced rate the verdict measured."""
    documented = view.documented_rate
    buckets = _buckets(view)
    if documented:
        style.documented_line(ax, documented)
        if buckets > 1:
            ax.axhline(
                documented * buckets,
                color=style.DOCUMENTED,
                linestyle=":",
                linewidth=1.4,
                label=f"documented × {buckets} buckets",
            )
    measured = view.measured.get("rate_per_s")
    if measured:
        err = view.measured.get("rate_uncertainty") or 0
        ax.axhline(
            measured * buckets,
            color=style.ENFORCED,
            linestyle=":",
            linewidth=1.2,
            label=f"enforced (measured) {style.rate(measured)} ± {err:.2g}"
            + (f" × {buckets}" if buckets > 1 else ""),
        )


def throughput(view: RunView) -> Figure:
    fig, (ax,) = style.figure()
    t, c = style.closed(view.t, view.columns)
    if len(t):
        ax.fill_between(
            t, c["offered"], step="post", color=style.OFFERED, alpha=0.35, label="offered"
        )
        ax.step(
            t, c["accepted"], where="post", color=style.ACCEPTED, linewidth=1.8, label="accepted"
        )
        ax.step(
            t, c["limited"], where="post", color=style.LIMITED, linewidth=1.2, label="limited (429)"
        )
        if view.total("errors"):
            ax.step(t, c["errors"], where="post", color=style.ERRORS, linewidth=1.2, label="errors")
        _outages(ax, view)
        _burst_note(ax, view)
    limit_lines(ax, view)
    high = float(np.nanmax(c["offered"], initial=1.0))
    style.per_second_axis(ax, high, (view.documented_rate or 1.0) * _buckets(view))
    ax.set_xlim(0, max(float(t[-1]) if len(t) else 1.0, 1.0))
    ax.set_xlabel("time from the run's start (s)")
    ax.set_ylabel("requests per second")
    style.legend_below(fig, ax)
    style.title(
        fig, f"Throughput against the documented limit — {headline(view)}", verdict_line(view)
    )
    return fig


def _outages(ax: Axes, view: RunView) -> None:
    c = view.columns
    silent = (c["errors"] > 0) & (np.nan_to_num(c["accepted"]) + np.nan_to_num(c["limited"]) == 0)
    for n, (a, b) in enumerate(style.spans(silent)):
        ax.axvspan(
            view.t[a],
            view.t[b - 1] + 1,
            color=style.ERRORS,
            alpha=0.12,
            linewidth=0,
            label="no answer" if n == 0 else None,
        )


def _burst_note(ax: Axes, view: RunView) -> None:
    """Point at the first second that let more through than the documented rate."""
    documented = view.documented_rate
    accepted = np.nan_to_num(view.columns["accepted"])
    if not documented or not len(accepted):
        return
    over = np.flatnonzero(accepted > documented * _buckets(view) * 1.5)
    if not len(over):
        return
    i = int(over[0])
    left_half = view.t[i] < (view.t[-1] + 1) / 2  # the note goes where there is room
    ax.annotate(
        f"burst: {int(accepted[i])} accepted in 1 s",
        xy=(view.t[i] + 0.5, accepted[i]),
        xytext=(30, 26) if left_half else (-30, 26),
        textcoords="offset points",
        ha="left" if left_half else "right",
        fontsize=9,
        color=style.ACCEPTED,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none"},
        arrowprops={"arrowstyle": "->", "color": style.ACCEPTED},
    )


def windows(view: RunView) -> list[tuple[float, float, float]]:
    """(offered/s, accepted/s, start s) per step of a stepped scenario (ramp, probe: run.json
    says when they start and how long each is), or per window of a run without steps; over
    seconds wholly inside one step, of the load (not the logins' second, nor the last, cut-short
    second of a run)."""
    t, c = view.t, view.columns
    start = float(view.run.get("load_started") or view.start) - view.start
    whole = (t >= np.ceil(start)) & (t < (t[-1] if len(t) else 0))
    if not whole.any():
        return []
    steps = view.run.get("steps")
    if isinstance(steps, dict) and steps.get("seconds"):
        origin, width = float(steps["start"]) - view.start, float(steps["seconds"])
        count = len(steps.get("factors") or ()) or len(t)
    else:
        origin, count = start, len(t)
        width = max(1.0, float(np.ceil((t[whole][-1] + 1 - start) / WINDOWS)))
    which = np.floor((t - origin) / width)
    inside = whole & (which >= 0) & (which < count) & (t + 1 <= origin + (which + 1) * width + 1e-6)
    points = []
    for w in np.unique(which[inside]):
        rows = inside & (which == w)
        offered, accepted = np.nanmean(c["offered"][rows]), np.nanmean(c["accepted"][rows])
        points.append((float(offered), float(accepted), float(origin + w * width)))
    return points


def offered_vs_accepted(view: RunView) -> Figure:
    fig, (ax,) = style.figure()
    c = view.columns
    ax.scatter(
        c["offered"],
        c["accepted"],
        s=8,
        color=style.OFFERED,
        alpha=0.6,
        label="one second",
        zorder=2,
    )
    points = windows(view)
    if points:
        x, y, _ = zip(*points, strict=True)
        ax.scatter(
            x,
            y,
            s=46,
            color=style.ACCEPTED,
            edgecolor="white",
            zorder=3,
            label="mean of a step or window",
        )
    ideal_axes(
        ax,
        [(view.documented_rate or 0) * _buckets(view)],
        float(np.nanmax(c["offered"], initial=1.0)),
        float(np.nanmax(c["accepted"], initial=1.0)),
    )
    ax.set_xlabel("offered (requests per second)")
    ax.set_ylabel("accepted (requests per second)")
    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.9)
    style.title(
        fig,
        f"Accepted against offered — {headline(view)}",
        "the knee of min(offered, limit) should sit on the documented limit; "
        "points above it: a burst being spent",
    )
    return fig


def ideal_axes(ax: Axes, limits: list[float], high: float, accepted: float) -> None:
    """The ideal ``min(offered, limit)`` of each limit, and axes that show the knee: logarithmic
    when the offered rate dwarfs the limit."""
    limit = max(limits, default=0.0)
    top = max(high, limit, 1.0) * 1.1
    logs = top > 30 * max(limit, 1.0)
    x = np.geomspace(0.1, top, 400) if logs else np.linspace(0, top, 400)
    for each in [v for v in limits if v]:
        ax.plot(
            x,
            np.minimum(x, each),
            color=style.DOCUMENTED,
            linestyle="--",
            linewidth=1.6,
            label=f"ideal: min(offered, {style.rate(each)})",
        )
        ax.axvline(each, color=style.DOCUMENTED, linewidth=0.8, alpha=0.5)
    if not any(limits):
        ax.plot(
            x, x, color=style.DOCUMENTED, linestyle="--", linewidth=1.2, label="accepted = offered"
        )
    for axis, set_scale in (("x", ax.set_xscale), ("y", ax.set_yscale)):
        if logs:
            set_scale("symlog", linthresh=1.0, linscale=0.4)
        getattr(ax, f"{axis}axis").set_major_formatter(style.FuncFormatter(style.count))
    ax.set_xlim(0, top)
    ax.set_ylim(0, max(top if not logs else max(limit * 4, accepted * 1.3), 1.0))


def headers(view: RunView, stats: RecordStats) -> Figure:
    shown = stats.keys or []
    rows = max(len(shown), 1)
    fig, axes = style.figure(rows=rows, height=2.0 + 2.2 * rows, right_axis=True)
    for n, (ax, key) in enumerate(zip(axes, shown, strict=False)):
        ax.fill_between(
            key.t,
            key.remaining_min,
            key.remaining_max,
            step="mid",
            facecolor=style.ACCEPTED + "59",
            edgecolor=style.ACCEPTED,
            linewidth=1,
            label="Remaining (range)",
        )
        ax.step(key.t, key.limit, where="mid", color=style.DOCUMENTED, label="Limit")
        ax.set_ylabel("requests")
        right = ax.twinx()
        right.step(
            key.t,
            key.reset,
            where="mid",
            color=style.ENFORCED,
            linewidth=1,
            linestyle="--",
            label=_reset_label(key.reset_is_epoch),
        )
        right.scatter(
            key.retry_t,
            key.retry_after,
            s=4,
            marker="|",
            color=style.LIMITED,
            label="Retry-After sent (s)",
            zorder=3,
        )
        right.set_ylabel("seconds")
        seconds = np.concatenate((key.reset, key.retry_after))
        right.set_ylim(0, max(float(np.nanmax(seconds, initial=1.0)), 1.0) * 1.6)
        ax.set_ylim(
            0,
            max(
                float(np.nanmax(key.limit, initial=1.0)),
                float(np.nanmax(key.remaining_max, initial=1.0)),
            )
            * 1.15,
        )
        ax.set_title(
            f"key {n + 1}: {key.key[:16]} ({key.requests:,} requests)", fontsize=9.5, loc="left"
        )
        if n == 0:
            style.legend_below(fig, ax, more=right)
    if not shown:
        axes[0].text(0.5, 0.5, "no request was recorded", ha="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel("time from the run's start (s)")
    style.title(fig, f"Rate-limit headers of the busiest keys — {headline(view)}")
    return fig


def _reset_label(epoch: bool) -> str:
    return "Reset (s, epoch − Date)" if epoch else "Reset (s)"


def latency(view: RunView) -> Figure:
    fig, (ax,) = style.figure()
    t, c = style.closed(view.t, view.columns)
    for outcome, colour in (("accepted", style.ACCEPTED), ("limited", style.LIMITED)):
        for q, dash in (("p50", "-"), ("p95", "--")):
            values = c[f"{outcome}_{q}_ms"]
            if np.isfinite(values).any():
                ax.step(
                    t,
                    values,
                    where="post",
                    color=colour,
                    linestyle=dash,
                    linewidth=1.4,
                    label=f"{outcome} {q}",
                )
    seen = np.concatenate([c[k] for k in c if k.endswith("_ms")]) if len(t) else np.array([])
    seen = seen[np.isfinite(seen) & (seen > 0)]
    if len(seen) and seen.max() > 50 * seen.min():
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("time from the run's start (s)")
    ax.set_ylabel("latency (ms)")
    if ax.get_legend_handles_labels()[0]:
        style.legend_below(fig, ax)
    style.title(fig, f"Latency per second, accepted and limited apart — {headline(view)}")
    return fig
