"""The figures of one run's report, each a function of a :class:`RunView` to a Figure.

The picture the project exists for is :func:`throughput`: offered, accepted and refused
requests per second against the documented limit.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mmload.report import callouts, style
from mmload.report.data import RecordStats, RunView, rate_interval, rates
from mmload.verdict.output import heading
from mmload.verdict.schema import INCONCLUSIVE

WINDOWS = 15  # offered-vs-accepted: about this many points when the run has no steps


def verdict_line(view: RunView) -> str:
    """PASS, FAIL or INCONCLUSIVE, what was enforced against what was documented, and for an
    inconclusive run what it set out to decide and could not."""
    v = view.verdict
    if v is None:
        return "no verdict"
    m, doc = v.measured, v.documented
    enforced = (
        "no rate measured" if m.rate_per_s is None else f"enforced {style.rate(m.rate_per_s)}"
    )
    if m.burst is not None:
        enforced += f", burst {m.burst}"
    documented = f"documented {style.rate(doc.per_sec)}"
    if doc.burst is not None:
        documented += f", burst {doc.burst}"
    line = f"{heading(v)}: {enforced} ({documented})"
    undecided = [c.id for c in v.checks if c.passed is None and c.id in v.intent]
    if v.outcome != INCONCLUSIVE or not undecided:
        return line
    named = f"{line}; not decided: {', '.join(undecided)}"
    return (
        named if len(named) <= style.TITLE_CHARS else f"{line}; {len(undecided)} checks not decided"
    )


def headline(view: RunView) -> str:
    run = view.run
    parts = [run.get("scenario") or "run", run.get("host") or "", view.name]
    return " · ".join(p for p in parts if p)


def _buckets(view: RunView) -> int:
    return max(view.measured.buckets, 1)


def limit_lines(ax: Axes, view: RunView) -> None:
    """The documented limit (and times the buckets the verdict found, when more than one), on
    top, and under them the enforced rate the verdict measured, as a band over where it surely
    lies (from its low end to the point estimate when nothing bounds it from above)."""
    documented = view.documented_rate
    buckets = _buckets(view)
    if documented:
        style.documented_line(ax, documented)
        if buckets > 1:
            style.documented_line(
                ax,
                documented * buckets,
                linestyle=":",
                label=f"documented × {buckets} buckets = {style.rate(documented * buckets)}",
            )
    measured, found = view.measured.rate_per_s, rate_interval(view.measured)
    if measured and found:
        low, high = found
        each = f"{style.rate(measured)} ({style.rate_range(low, high)})"
        top = max(measured, low) if np.isinf(high) else high  # unbounded: up to the estimate
        style.enforced_band(
            ax,
            measured * buckets,
            low * buckets,
            top * buckets,
            f"enforced (measured) {each}"
            + (f" × {buckets} = {style.rate(measured * buckets)}" if buckets > 1 else ""),
        )


def throughput(view: RunView) -> Figure:
    fig, (ax,) = style.figure()
    t, c = rates(view)
    style.logins(ax, view.load_t)
    if len(t):
        ax.fill_between(
            t, c["offered"], step="post", color=style.OFFERED, alpha=0.35, label="offered"
        )
        ax.step(
            t, c["accepted"], where="post", color=style.ACCEPTED, linewidth=1.8, label="accepted"
        )
        refusals = ", ".join(str(s) for s in view.limited_status)
        ax.step(
            t,
            c["limited"],
            where="post",
            color=style.LIMITED,
            linewidth=1.2,
            label=f"limited ({refusals})",
        )
        if view.total("errors"):
            ax.step(t, c["errors"], where="post", color=style.ERRORS, linewidth=1.2, label="errors")
        _outages(ax, view)
    limit_lines(ax, view)
    high = float(np.nanmax(c["offered"], initial=1.0))
    style.per_second_axis(ax, high, view.documented_rate or 1.0)
    ax.set_xlim(0, max(float(t[-1]) if len(t) else 1.0, 1.0))
    ax.set_xlabel("time from the run's start (s)")
    ax.set_ylabel("requests per second")
    style.legend_below(fig, ax)
    style.title(
        fig, f"Throughput against the documented limit — {headline(view)}", verdict_line(view)
    )
    if len(t):  # last: it finds its place among the lines as they are laid out
        limit = (view.documented_rate or 0) * _buckets(view)
        callouts.burst(ax, t, c, limit, view.load_t)
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


def windows(view: RunView) -> list[tuple[float, float, float]]:
    """(offered/s, accepted/s, start s) per step of a stepped scenario (ramp, probe: run.json
    says when they start and how long each is), or per window of a run without steps; over
    seconds wholly inside one step, of the load (not the logins' second, nor the last, cut-short
    second of a run)."""
    t, c = view.t, view.columns
    first = np.ceil(float(view.run.get("load_started") or view.start) - view.start)
    whole = (t >= first) & (t < (t[-1] if len(t) else 0))
    if not whole.any():
        return []
    steps = view.run.get("steps")
    if isinstance(steps, dict) and steps.get("seconds"):
        origin, width = float(steps["start"]) - view.start, float(steps["seconds"])
        count = len(steps.get("factors") or ()) or len(t)
    else:  # windows of whole seconds from the load's first whole one
        origin, count = float(first), len(t)
        width = max(1.0, float(np.ceil((t[whole][-1] + 1 - first) / WINDOWS)))
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
    _, c = rates(view)  # as rates: a second cut short is no point below the ideal
    ax.scatter(
        c["offered"][:-1],
        c["accepted"][:-1],
        s=20,
        color=SECOND_GREY,
        alpha=0.75,
        linewidth=0,
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
    buckets = _buckets(view)
    ideal_axes(
        ax,
        [view.documented_rate or 0],
        float(np.nanmax(c["offered"], initial=1.0)),
        float(np.nanmax(c["accepted"], initial=1.0)),
        buckets,
    )
    ax.set_xlabel("offered (requests per second)")
    ax.set_ylabel("accepted (requests per second)")
    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.9)
    documented = view.documented_rate
    limit = style.rate(documented * buckets) if documented else "not known"
    knee = (
        f"the documented limit × {buckets} buckets ({limit})"
        if buckets > 1
        else f"the documented limit ({limit})"
    )
    style.title(
        fig,
        f"Accepted against offered — {headline(view)}",
        f"the knee should sit on {knee}; points above it: a burst being spent",
    )
    return fig


SECOND_GREY = "#5c6670"  # offered-vs-accepted's per-second points: seen, but behind the means


def ideal_axes(
    ax: Axes, limits: list[float], high: float, accepted: float, buckets: int = 1
) -> None:
    """The ideal ``min(offered, limit × buckets)`` of each documented limit with its knee, and
    axes that show the knee: logarithmic when the offered rate dwarfs the limit."""
    limit = max(limits, default=0.0) * buckets
    logs = max(high, limit) > style.LOG_ABOVE * max(limit, 1.0)
    top = max(high, limit, 1.0) * (1.3 if logs else 1.1)  # no point on the right edge
    x = np.geomspace(0.1, top * 10, 400) if logs else np.linspace(0, top, 400)  # past the edge
    for each in [v for v in limits if v]:
        knee = each * buckets
        shown = f"{style.rate(knee)} = {buckets} × {style.rate(each)}" if buckets > 1 else ""
        ax.plot(
            x,
            np.minimum(x, knee),
            color=style.DOCUMENTED,
            linestyle="--",
            linewidth=1.6,
            label=f"ideal: min(offered, {shown or style.rate(each)})",
        )
        ax.axvline(
            knee,
            color=style.DOCUMENTED,
            linewidth=0.8,
            alpha=0.5,
            label=f"knee: documented limit {style.rate(each)}"
            + (f" × {buckets} buckets" if buckets > 1 else ""),
        )
    if not any(limits):
        ax.plot(
            x, x, color=style.DOCUMENTED, linestyle="--", linewidth=1.2, label="accepted = offered"
        )
    if logs:
        style.log_axis(ax, "x", max(high, limit))
        style.log_axis(ax, "y", max(limit * 3, accepted))
    else:
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(style.FuncFormatter(style.count))
        ax.set_xlim(0, top)
        ax.set_ylim(0, max(top, 1.0))


def latency(view: RunView) -> Figure:
    fig, (ax,) = style.figure()
    t, c = rates(view)
    style.logins(ax, view.load_t)
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
    _latency_axis(ax, t, c, view.load_t)
    ax.set_xlim(0, max(float(t[-1]) if len(t) else 1.0, 1.0))
    ax.set_xlabel("time from the run's start (s)")
    ax.set_ylabel("latency (ms)")
    if ax.get_legend_handles_labels()[0]:
        style.legend_below(fig, ax)
    style.title(fig, f"Latency per second, accepted and limited apart — {headline(view)}")
    return fig


def _latency_axis(ax: Axes, t: np.ndarray, c: dict[str, np.ndarray], load_t: float) -> None:
    """Scaled to the load phase: the logins' slower first requests may go off the top (they
    are shaded) rather than squeeze the load into a band at the bottom; logarithmic when the
    latencies of the load are of very different sizes."""
    load = t + 1 > load_t  # seconds holding some of the load (the last point closes a step)
    if not load[:-1].any():
        load[:] = True
    seen = np.concatenate([c[k][load] for k in c if k.endswith("_ms")])
    seen = seen[np.isfinite(seen) & (seen > 0)]
    if not len(seen):
        ax.set_ylim(bottom=0)
    elif seen.max() > 50 * seen.min():
        ax.set_yscale("log")
        ax.set_ylim(seen.min() / 1.5, seen.max() * 1.5)
    else:
        ax.set_ylim(0, seen.max() * 1.15)


def soak(view: RunView, stats: RecordStats) -> Figure | None:
    """A long run minute by minute: the enforced rate per bucket against the documented one
    (and the verdict's stretches, each with the interval it measured), the share refused, and
    the reference server's memory when it ran one.  None for a run shorter than
    :data:`SOAK_MINUTES`."""
    s = stats.soak
    if s is None:
        return None
    memory = len(s.memory_t) > 0
    fig, axes = style.figure(
        rows=3 if memory else 2, height=style.HEIGHT * (1.6 if memory else 1.3)
    )
    minutes = s.minute / 60
    ax = axes[0]
    ax.step(minutes, s.rate, where="post", color=style.ACCEPTED, linewidth=1.6,
            label="accepted per second, per bucket that refused")  # fmt: skip
    stretches = view.verdict.stretches if view.verdict else ()
    for i, st in enumerate(stretches):
        if st.judged and st.rate_low is not None:
            high = st.rate_high if st.rate_high is not None else st.rate_low * 2
            colour = style.LIMITED if st.failed else style.ENFORCED
            label = "the verdict's stretches (red: a check failed)" if i == 0 else None
            ax.fill_between([st.start_s / 60, st.end_s / 60], st.rate_low, high, color=colour,
                            alpha=0.15, linewidth=0, label=label)  # fmt: skip
    if view.documented_rate:
        style.documented_line(ax, view.documented_rate)
    ax.set_ylabel("requests/s")
    ax.set_title("enforced rate per bucket, by minute", loc="left", fontsize=9)
    ax = axes[1]
    ax.step(minutes, 100 * s.refused, where="post", color=style.LIMITED, linewidth=1.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% refused")
    ax.set_title("share of requests refused, by minute", loc="left", fontsize=9)
    if memory:
        ax = axes[2]
        ax.plot(s.memory_t / 60, s.memory_mb, color=style.ENFORCED, linewidth=1.4)
        ax.set_ylim(0, max(float(np.max(s.memory_mb)) * 1.15, 1.0))
        ax.set_ylabel("MB")
        ax.set_title("the reference server's resident memory", loc="left", fontsize=9)
    axes[-1].set_xlabel("minutes from the run's start")
    axes[-1].set_xlim(0, max(float(minutes[-1]) + 1, 1.0))
    style.legend_below(fig, axes[0])
    style.title(fig, f"Soak: does the limit hold over the run? — {headline(view)}",
                verdict_line(view))  # fmt: skip
    return fig
