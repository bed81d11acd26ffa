"""Reports of a run folder: figures and a self-contained HTML page, from disk alone.

``write_report(folder)`` writes ``throughput.png``, ``offered-vs-accepted.png``,
``headers.png``, ``latency.png`` (and for a run of ten minutes or more ``soak.png``) and
``report.html`` into the folder.  When the folder has no
``verdict.json`` (a killed run), the verdict is computed for the report and not saved.
"""

from __future__ import annotations

from pathlib import Path

from mmload.report import figures, headers, page, style
from mmload.report.data import ensure_verdict, load, record_stats
from mmload.results.folder import atomic_write

REPORT_HTML = "report.html"
FIGURES = ("throughput", "offered-vs-accepted", "headers", "latency")

__all__ = ["FIGURES", "REPORT_HTML", "write_report"]


def write_report(folder: Path) -> list[Path]:
    """Write the report of the run in ``folder``; the paths written, the page last."""
    view = ensure_verdict(load(folder))
    stats = record_stats(view)
    drawn = {
        "throughput": (figures.throughput(view), "requests per second against the limit"),
        "offered-vs-accepted": (figures.offered_vs_accepted(view), "accepted against offered"),
        "headers": (headers.figure(view, stats), "rate-limit headers over time"),
        "latency": (figures.latency(view), "latency over time"),
    }
    soak = figures.soak(view, stats)
    if soak is not None:  # a long run
        drawn["soak"] = (soak, "the limit minute by minute over a long run")
    written, embedded = style.save_all(drawn, folder)
    return [*written, atomic_write(folder / REPORT_HTML, page.render(view, stats, embedded))]
