"""What every figure of a report shares: colours, size, number formats, saving."""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter, SymmetricalLogLocator

from mmload.results.folder import atomic_write

OFFERED = "#9aa5b1"
ACCEPTED = "#2b8a3e"
LIMITED = "#e8590c"
ERRORS = "#c92a2a"
DOCUMENTED = "#1c7ed6"
ENFORCED = "#212529"
LOGINS = "#adb5bd"
# The runs of a comparison: never the documented limit's blue, which every figure draws too.
RUN_COLOURS = ("#e8590c", "#2b8a3e", "#9c36b5", "#c2255c", "#f59f00", "#495057", "#66a80f")
WIDTH, HEIGHT, DPI = 10.0, 4.6, 100  # shown at 1000 px wide in the HTML


# Margins in inches, fixed rather than computed by a layout engine (which took half of a
# report's time): room for two title lines, tick labels and an axis label on each side.
TOP, BOTTOM, LEFT, RIGHT, RIGHT_AXIS, LEGEND_ROW = 0.72, 0.62, 0.85, 0.3, 0.85, 0.24
# Above the figure's title, a line of it, below it, and an axes' own title.
TITLE_TOP, TITLE_LINE, TITLE_GAP, AXES_TITLE = 0.1, 0.2, 0.2, 0.24
TITLE_CHARS = 120  # a title's second line at most: what fits across a figure


def figure(
    rows: int = 1, height: float = HEIGHT, right_axis: bool = False
) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH, height), dpi=DPI)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    right = RIGHT_AXIS if right_axis else RIGHT
    fig.subplots_adjust(left=LEFT / WIDTH, right=1 - right / WIDTH, top=1 - TOP / height,
                        bottom=BOTTOM / height, hspace=0.45)  # fmt: skip
    for ax in axes:
        ax.grid(True, which="major", color="#dee2e6", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, list(axes)


def title(fig: Figure, first: str, second: str = "") -> None:
    """The figure's title, a fixed distance from its top whatever its height, and the axes
    just below it (and below the first axes' own title, if it has one)."""
    text = first if not second else first + "\n" + textwrap.shorten(second, TITLE_CHARS)
    height = fig.get_figheight()
    fig.suptitle(text, fontsize=11, x=0.01, y=1 - TITLE_TOP / height, ha="left", va="top")
    top = TITLE_TOP + TITLE_LINE * (1 + bool(second)) + TITLE_GAP
    if fig.axes and fig.axes[0].get_title(loc="left"):
        top += AXES_TITLE
    fig.subplots_adjust(top=1 - top / height)


def legend_below(
    fig: Figure,
    ax: Axes,
    columns: int = 4,
    more: Axes | None = None,
    markerscale: float = 1.0,
    group: int = 0,
) -> None:
    """Below the axes, where it never hides a line (with the entries of a twin axis ``more``),
    in at most ``columns`` columns and rows as even as they can be (or each column one
    ``group`` of entries, when they fit); the axes make room."""
    handles, labels = ax.get_legend_handles_labels()
    if more is not None:
        extra = more.get_legend_handles_labels()
        handles, labels = handles + extra[0], labels + extra[1]
    if not labels:
        return
    widest = 40 + 5.6 * max(map(len, labels))  # pixels: a handle, the longest label, a gap
    columns = max(1, min(columns, len(labels), int(WIDTH * DPI / widest)))
    if group and -(-len(labels) // group) <= columns:
        blank = -len(labels) % group  # columns fill top down: pad the last one
        handles, labels = (
            handles + [Line2D([], [], linestyle="none")] * blank,
            labels + [""] * blank,
        )
        columns = len(labels) // group
    rows = -(-len(labels) // columns)
    columns = -(-len(labels) // rows)  # 5 entries: 3 + 2, not 4 + 1
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.005), ncols=columns,
               fontsize=9, frameon=False, markerscale=markerscale)  # fmt: skip
    fig.subplots_adjust(bottom=(BOTTOM + 0.1 + rows * LEGEND_ROW) / fig.get_figheight())


def count(value: float, _: object = None) -> str:
    """1, 10, 100, 1k, 12k, 1.5M: tick labels that stay short."""
    if value == 0:
        return "0"
    for scale, unit in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def per_second_axis(ax: Axes, high: float, low: float) -> None:
    """Linear when the numbers are of one size, symmetric-log when offered dwarfs the lowest
    limit line (a hammer offers hundreds a second to a 10/s limit: both must be readable)."""
    if high > LOG_ABOVE * max(low, 1.0):
        log_axis(ax, "y", high)
    else:
        ax.set_ylim(0, max(high, low, 1.0) * 1.15)
        ax.yaxis.set_major_formatter(FuncFormatter(count))


LOG_ABOVE = 8  # a scale turns logarithmic when the largest value is this many times the limit


def log_axis(ax: Axes, axis: str, high: float) -> None:
    """A symmetric-log axis from 0 (linear below 1) to the first tick above ``high`` × 1.3,
    with ticks at 1, 2 and 5 times each power of ten while they fit, else fewer."""
    getattr(ax, f"set_{axis}scale")("symlog", linthresh=1.0, linscale=0.4)
    decades = float(np.log10(max(high, 10.0)))
    subs = (1.0, 2.0, 5.0) if decades <= 3.5 else (1.0, 3.0) if decades <= 5 else (1.0,)
    ticks = [s * 10.0**k for k in range(int(decades) + 3) for s in subs]
    getattr(ax, f"set_{axis}lim")(0, min(t for t in ticks if t >= max(high, 1.0) * 1.3))
    which = getattr(ax, f"{axis}axis")
    which.set_major_locator(SymmetricalLogLocator(linthresh=1.0, base=10, subs=subs))
    which.set_major_formatter(FuncFormatter(count))
    which.set_minor_locator(SymmetricalLogLocator(linthresh=1.0, base=10, subs=range(2, 10)))
    which.set_minor_formatter(NullFormatter())


def documented_line(ax: Axes, limit: float, linestyle: str = "--", label: str = "") -> None:
    """The documented limit across the axes, the same way in every figure: on top of the
    series, so that a line at the same height never hides it."""
    ax.axhline(limit, color=DOCUMENTED, linestyle=linestyle, linewidth=1.6, zorder=4,
               label=label or f"documented limit {rate(limit)}")  # fmt: skip


INTERVAL = "enforced-interval"  # the id of the band where the enforced rate surely lies


def enforced_band(ax: Axes, value: float, low: float, high: float, label: str) -> None:
    """The enforced rate the verdict measured: a broad pale line under the series at its point
    estimate, which the documented line (thin, dashed, on top) runs along where the two agree,
    and as pale a band over ``low..high``, where it surely lies (wider than the line only when
    the measurement is unsure)."""
    ax.axhline(value, color=ENFORCED, alpha=0.2, linewidth=7, solid_capstyle="butt", zorder=1.5,
               label=label)  # fmt: skip
    if high > low:
        ax.axhspan(low, high, color=ENFORCED, alpha=0.1, linewidth=0, zorder=1.4, gid=INTERVAL)


def logins(ax: Axes, until: float) -> None:
    """Shade and name the logins before the load phase: their requests are not the load."""
    if until <= 0:
        return
    ax.axvspan(0, until, facecolor="none", edgecolor=LOGINS, hatch="///", linewidth=0,
               zorder=0.5)  # fmt: skip
    ax.text(until / 2, 0.97, "logins", transform=ax.get_xaxis_transform(), rotation=90,
            ha="center", va="top", fontsize=8, color="#495057", zorder=5,
            path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])  # fmt: skip


def rate(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}/s"


def rate_range(low: float, high: float) -> str:
    """Where a rate surely lies: ``9.998..10/s``, or ``at least 14.4/s`` when nothing bounds it
    from above."""
    return f"at least {rate(low)}" if math.isinf(high) else f"{low:.4g}..{rate(high)}"


def png(fig: Figure, path: Path | None = None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    data = buffer.getvalue()
    if path is not None:
        atomic_write(path, data)
    return data


Embedded = list[tuple[str, bytes, str]]  # name, PNG, alt text


def save_all(drawn: dict[str, tuple[Figure, str]], folder: Path) -> tuple[list[Path], Embedded]:
    """``NAME.png`` for each figure; the paths, and the figures to embed in a page."""
    written, embedded = [], []
    for name, (fig, alt) in drawn.items():
        path = folder / f"{name}.png"
        embedded.append((name, png(fig, path), alt))
        written.append(path)
    return written, embedded


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [start, end) where ``mask`` holds."""
    if not len(mask):
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
