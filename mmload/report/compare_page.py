"""The files of ``mmload compare``: ``throughput.png``, ``offered-vs-accepted.png``, a
self-contained ``compare.html`` and a ``compare.md`` for CI step summaries."""

from __future__ import annotations

from pathlib import Path

from mmload.report import compare as comparing
from mmload.report import page, style
from mmload.report.compare import Comparison, Row
from mmload.results.folder import atomic_write

COMPARE_HTML = "compare.html"
COMPARE_MD = "compare.md"
HEAD = (
    "run",
    "verdict",
    "rate",
    "Δ",
    "burst",
    "Δ",
    "429 share",
    "Δ",
    "p95 accepted",
    "Δ",
    "changed",
)


def cells(row: Row) -> list[str]:
    d = row.deltas
    return [
        row.name,
        row.heading,
        _rate(row),
        d.get("rate", "base"),
        "–" if row.burst is None else f"{row.burst:g}",
        d.get("burst", "base"),
        "–" if row.limited_share is None else f"{row.limited_share:.1%}",
        d.get("limited_share", "base"),
        "–" if row.p95_ms is None else f"{row.p95_ms:.3g} ms",
        d.get("p95_ms", "base"),
        ", ".join(row.flags) if row.flags else ("" if not d else "no"),
    ]


def _rate(row: Row) -> str:
    if row.rate is None:
        return "–"
    return style.rate(row.rate) + (
        f" ({style.rate_range(*row.rate_range)})" if row.rate_range else ""
    )


def markdown(c: Comparison) -> str:
    lines = [f"# mmload compare: {len(c.rows)} runs, base {c.rows[0].name}", ""]
    if c.regressions:
        lines += [f"**Regression**: {', '.join(c.regressions)} fail(s) where the base passed.", ""]
    if c.unverified:
        lines += [
            f"**No longer verified**: {', '.join(c.unverified)} inconclusive where the "
            "base passed (no regression: nothing failed, but the run could not say).",
            "",
        ]
    lines += ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(x.replace("|", "/") for x in cells(r)) + " |" for r in c.rows]
    lines += ["", *(f"- {r.name}: {r.summary}" for r in c.rows), ""]
    return "\n".join(lines)


def html(c: Comparison, figures: style.Embedded) -> str:
    rows = []
    for row in c.rows:
        line = [page.esc(x) for x in cells(row)]
        if row.flags:
            line[-1] = f'<span class="badge b-FAIL">{line[-1]}</span>'
        rows.append(line)
    body = [
        f"<h1>mmload compare: {len(c.rows)} runs</h1>",
        *banners(c),
        "<h2>Runs against the base (the first)</h2>",
        page.table(HEAD, rows, raw=True),
        "<h2>Verdicts</h2>",
        '<ul class="notes">',
        *(f"<li><b>{page.esc(r.name)}</b>: {page.esc(r.summary)}</li>" for r in c.rows),
        "</ul>",
        "<h2>Figures</h2>",
        *(page.figure_tag(n, d, a) for n, d, a in figures),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>mmload compare</title><style>{page.CSS}</style></head>"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def banners(c: Comparison) -> list[str]:
    """Runs that fail where the base passed, runs inconclusive where it passed, or neither."""
    found = []
    if c.regressions:
        found.append(
            f'<div class="verdict FAIL"><b>Regression</b> — {page.esc(", ".join(c.regressions))} '
            "fail(s) where the base passed</div>"
        )
    if c.unverified:
        found.append(
            '<div class="verdict INCONCLUSIVE"><b>No longer verified</b> — '
            f"{page.esc(', '.join(c.unverified))} inconclusive where the base passed: no "
            "regression, nothing failed, but the run could not say</div>"
        )
    return found or ['<div class="verdict NONE">No run went from pass to fail.</div>']


def write(c: Comparison, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    drawn = {
        "throughput": (comparing.throughput(c), "throughput of every run"),
        "offered-vs-accepted": (comparing.offered_vs_accepted(c), "accepted against offered"),
    }
    written, embedded = style.save_all(drawn, out)
    written.append(atomic_write(out / COMPARE_MD, markdown(c)))
    written.append(atomic_write(out / COMPARE_HTML, html(c, embedded)))
    return written
