"""``headers.png``: what the server said in its rate-limit headers, for the busiest keys."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mmload.report import figures, style
from mmload.report.data import KeySeries, RecordStats, RunView

KEY_CHARS = 40  # a longer key is shown as its both ends (keys.csv has it whole)
FLOOR = 0.05  # the part of each panel below 0


def figure(view: RunView, stats: RecordStats) -> Figure:
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
        if len(key.retry_t):  # no legend entry for what was never sent
            right.scatter(
                key.retry_t,
                key.retry_after,
                s=14,
                marker="v",
                linewidth=0,
                color=style.LIMITED,
                label="Retry-After sent (s)",
                zorder=3,
            )
        right.set_ylabel("seconds")
        _scales(ax, right, key)
        ax.set_title(
            f"key {n + 1}: {key_label(key.key)} ({key.requests:,} requests)",
            fontsize=9.5,
            loc="left",
        )
        if n == 0:
            style.legend_below(fig, ax, more=right, markerscale=1.6)
    if not shown:
        axes[0].text(0.5, 0.5, "no request was recorded", ha="center", transform=axes[0].transAxes)
    axes[-1].set_xlabel("time from the run's start (s)")
    style.title(fig, f"Rate-limit headers of the busiest keys — {figures.headline(view)}")
    return fig


def _scales(ax: Axes, right: Axes, key: KeySeries) -> None:
    """Requests on the left, seconds on the right, both from a little below 0: a Remaining of
    0 is drawn above the axis, and both zeros are level."""
    seconds = np.concatenate((key.reset, key.retry_after))
    top = max(float(np.nanmax(seconds, initial=1.0)), 1.0) * 1.6
    right.set_ylim(-FLOOR * top, top)
    top = (
        max(
            float(np.nanmax(key.limit, initial=1.0)),
            float(np.nanmax(key.remaining_max, initial=1.0)),
        )
        * 1.15
    )
    ax.set_ylim(-FLOOR * top, top)


def key_label(key: str) -> str:
    """The key as keys.csv has it, or its both ends when it is long: keys that differ (often
    only in their last characters) stay apart."""
    if len(key) <= KEY_CHARS:
        return key
    half = (KEY_CHARS - 1) // 2
    return f"{key[:half]}…{key[-half:]}"


def _reset_label(epoch: bool) -> str:
    return "Reset (s, epoch − Date)" if epoch else "Reset (s)"
