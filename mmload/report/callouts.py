"""Callouts on a figure: notes that point at something, placed where they hide the fewest lines."""

from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes

from mmload.report import style


def burst(ax: Axes, t: np.ndarray, c: dict[str, np.ndarray], limit: float, load_t: float) -> None:
    """Point at the first second of the load (not the logins before it) that let more through
    than the documented rate, from where the note crosses the fewest lines."""
    rate = np.nan_to_num(c["accepted"][:-1])
    over = np.flatnonzero((rate > limit * 1.5) & (t[1:] > load_t))
    if not limit or not len(over):
        return
    i = int(over[0])
    width = float(t[i + 1] - t[i])
    text = f"burst: {rate[i] * width:.0f} accepted in {width:.2g} s"
    point = (float(t[i] + width / 2), float(rate[i]))
    lines = [np.nan_to_num(c[k]) for k in ("accepted", "limited", "errors")]
    lines.append(np.full(len(t), limit))
    dx, dy = min(PLACES, key=lambda place: crossings(ax, t, lines, point, place, len(text)))
    ax.annotate(
        text,
        xy=point,
        xytext=(dx, dy),
        textcoords="offset points",
        ha="left" if dx > 0 else "right",
        va="center",
        fontsize=9,
        color=style.ACCEPTED,
        path_effects=[patheffects.withStroke(linewidth=3, foreground="white")],
        arrowprops={"arrowstyle": "->", "color": style.ACCEPTED, "shrinkB": 2},
        zorder=5,
    )


# Where the burst note may go, in points from what it points at, the first the likeliest.
PLACES = [(dx, dy) for dy in (24, -24, 42, -42, 8, -8, 60, -60) for dx in (30, -30)]


def crossings(
    ax: Axes,
    t: np.ndarray,
    lines: list[np.ndarray],
    point: tuple[float, float],
    place: tuple[int, int],
    chars: int,
) -> float:
    """How many steps of ``lines`` a note of ``chars`` characters at ``place`` would cross
    (infinite when it would leave the axes): all in display pixels, once the axes are laid
    out."""
    fig = ax.get_figure()
    pixels = (fig.dpi if fig is not None else style.DPI) / 72
    x, y = ax.transData.transform(point) + np.array(place) * pixels
    width, height = chars * 5.4 * pixels, 13 * pixels
    x0, x1 = (x, x + width) if place[0] > 0 else (x - width, x)
    y0, y1 = y - height / 2, y + height / 2
    box = ax.get_window_extent()
    if x0 < box.x0 or x1 > box.x1 or y0 < box.y0 or y1 > box.y1:
        return float("inf")
    found = 0
    for values in lines:
        xs, ys = ax.transData.transform(np.column_stack((t, values))).T
        flat = (ys[:-1] >= y0) & (ys[:-1] <= y1) & (xs[1:] >= x0) & (xs[:-1] <= x1)
        low, high = np.minimum(ys[:-2], ys[1:-1]), np.maximum(ys[:-2], ys[1:-1])
        rise = (xs[1:-1] >= x0) & (xs[1:-1] <= x1) & (high >= y0) & (low <= y1)
        found += int(flat.sum() + rise.sum())
    return found
