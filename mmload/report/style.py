"""What every figure of a report shares: colours, size, number formats, saving."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

OFFERED = "#9aa5b1"
ACCEPTED = "#2b8a3e"
LIMITED = "#e8590c"
ERRORS = "#c92a2a"
DOCUMENTED = "#1c7ed6"
ENFORCED = "#212529"
RUN_COLOURS = ("#1c7ed6", "#e8590c", "#2b8a3e", "#9c36b5", "#f59f00", "#0ca678", "#495057")
WIDTH, HEIGHT, DPI = 10.0, 4.6, 100  # shown at 1000 px wide in the HTML


# Margins in inches, fixed rather than computed by a layout engine (which took half of a
# report's time): room for two title lines, tick labels and an axis label on each side.
TOP, BOTTOM, LEFT, RIGHT, RIGHT_AXIS, LEGEND_ROW = 0.72, 0.62, 0.85, 0.3, 0.85, 0.24


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
    text = first if not second else first + "\n" + textwrap.shorten(second, 120)
    fig.suptitle(text, fontsize=11, x=0.01, ha="left")


def legend_below(fig: Figure, ax: Axes, columns: int = 4, more: Axes | None = None) -> None:
    """Below the axes, where it never hides a line (with the entries of a twin axis ``more``);
    the axes make room for its rows."""
    handles, labels = ax.get_legend_handles_labels()
    if more is not None:
        extra = more.get_legend_handles_labels()
        handles, labels = handles + extra[0], labels + extra[1]
    if not labels:
        return
    columns = min(columns, len(labels))
    rows = -(-len(labels) // columns)
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.005), ncols=columns,
               fontsize=9, frameon=False)  # fmt: skip
    fig.subplots_adjust(bottom=(BOTTOM + 0.1 + rows * LEGEND_ROW) / fig.get_figheight())


def closed(
    t: np.ndarray, columns: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-second columns with one more point at the end of the last second, so that a step
    drawn ``where="post"`` shows the last second as wide as the others."""
    if not len(t):
        return t, columns
    return np.append(t, t[-1] + 1), {k: np.append(v, v[-1]) for k, v in columns.items()}


def count(value: float, _: object = None) -> str:
    """1, 10, 100, 1k, 12k, 1.5M: tick labels that stay short."""
    if value == 0:
        return "0"
    for scale, unit in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def per_second_axis(ax: Axes, high: float, low: float) -> None:
    """Linear when the numbers are of one size, symmetric-log when offered dwarfs the limit
    (a hammer offers thousands a second to a 10/s limit: both must be readable)."""
    if high > 30 * max(low, 1.0):
        ax.set_yscale("symlog", linthresh=1.0, linscale=0.4)
        ax.set_ylim(0, high * 2)
    else:
        ax.set_ylim(0, max(high, low, 1.0) * 1.15)
    ax.yaxis.set_major_formatter(FuncFormatter(count))


def documented_line(ax: Axes, limit: float, linestyle: str = "--") -> None:
    """The documented limit across the axes, the same way in every figure."""
    ax.axhline(limit, color=DOCUMENTED, linestyle=linestyle, linewidth=1.6,
               label=f"documented limit {rate(limit)}")  # fmt: skip


def rate(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}/s"


def png(fig: Figure, path: Path | None = None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    data = buffer.getvalue()
    if path is not None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
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


def write_text(path: Path, text: str) -> Path:
    """Whole or not at all: a reader never sees half a page."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [start, end) where ``mask`` holds."""
    if not len(mask):
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
