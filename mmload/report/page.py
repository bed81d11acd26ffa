"""``report.html``: one self-contained file (figures embedded as data URIs, no script, nothing
fetched) with the verdict at the top (PASS, FAIL or INCONCLUSIVE, its notes, what it did not
verify, and every check with its likely cause), what was documented, advertised and enforced,
the run's settings (run.json never holds secrets) and the figures."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Any

from mmload.report.data import RecordStats, RunView, rate_interval
from mmload.report.style import Embedded, rate, rate_range
from mmload.results.folder import read_server
from mmload.verdict.output import heading, status
from mmload.verdict.schema import Advertised, Measured, Verdict

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#212529;
max-width:1040px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dee2e6}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e9ecef;vertical-align:top}
th{background:#f1f3f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{padding:12px 16px;border-radius:6px;font-size:16px;margin:12px 0}
.PASS{background:#d3f9d8;color:#1b5e20}.FAIL{background:#ffe3e3;color:#a61e1e}
.INCONCLUSIVE{background:#fff3bf;color:#7a4f01}.NONE{background:#f1f3f5;color:#495057}
.badge{display:inline-block;min-width:64px;text-align:center;border-radius:4px;padding:1px 6px;
font-weight:600;font-size:12px}
.b-pass{background:#d3f9d8;color:#1b5e20}.b-FAIL{background:#ffa8a8;color:#7d0b0b}
.b-warning{background:#ffec99;color:#6b4e00}.b-na{background:#e9ecef;color:#495057}
.b-undecided{background:#fff;color:#8a4b00;border:1px dashed #f08c00;padding:0 5px}
.cause{display:block;margin-top:3px;color:#a61e1e}
p.unverified{margin:6px 0 0}
img{width:100%;height:auto;border:1px solid #e9ecef;margin:6px 0 18px}
.muted{color:#868e96}ul.notes li{margin:3px 0}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def table(head: Sequence[str], rows: Iterable[Sequence[object]], raw: bool = False) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def check_rows(verdict: Verdict) -> list[list[str]]:
    """One row per check: its state (pass, FAIL, warning, undecided, n/a), what was expected
    and observed, and its message with, for a failed check, its likely cause."""
    rows = []
    for check in verdict.checks:
        state = status(check, verdict.strict)
        css = "na" if state == "n/a" else state
        cause = f'<span class="cause">likely cause: {esc(check.diagnosis)}</span>'
        rows.append(
            [
                f'<span class="badge b-{css}">{esc(state)}</span>',
                esc(check.id),
                esc(check.expected),
                esc(check.observed),
                esc(check.message) + (cause if check.diagnosis else ""),
            ]
        )
    return rows


def banner(view: RunView) -> str:
    """PASS, FAIL or INCONCLUSIVE and the verdict's summary; then its notes, and the checks
    it could not decide."""
    v = view.verdict
    if v is None:
        return '<div class="verdict NONE">No verdict: no request was judged.</div>'
    word = heading(v)
    computed = (
        ""
        if view.verdict_saved
        else ' <span class="muted">(computed for this report: the folder has no verdict.json '
        "it could read)</span>"
    )
    summary = esc(v.summary.removeprefix(f"{word}: "))
    parts = [f'<div class="verdict {word}"><b>{word}</b> — {summary}{computed}</div>']
    if v.notes:
        parts += ['<ul class="notes">', *(f"<li>{esc(n)}</li>" for n in v.notes), "</ul>"]
    if v.not_verified:
        parts.append(
            f'<p class="unverified"><b>Not verified:</b> {esc(", ".join(v.not_verified))}.</p>'
        )
    return "\n".join(parts)


def limits_table(view: RunView) -> str:
    doc, m = view.documented, view.measured
    adv = view.verdict.advertised if view.verdict else Advertised()
    window = f" per {adv.window:g} s" if adv.window else ""
    rows = [
        ["rate", rate(doc.per_sec), "", _enforced_rate(m)],
        ["burst", _or_dash(doc.burst), "", _enforced_burst(m)],
        *(
            [f"route {r.endpoint}", f"{rate(r.per_sec)}, burst {_or_dash(r.burst)}", "", ""]
            for r in doc.routes
        ),
        ["Limit header", "", _or_dash(adv.limit) + window, ""],
        *([["policies", "", _policies(adv), ""]] if adv.policies else []),
        ["Reset", "", _or_dash(adv.reset), _or_dash(m.reset_semantics)],
        ["dialect", "", _or_dash(adv.dialect), ""],
        ["scope", "", "", _scope(m)],
        ["algorithm", "", "", _or_dash(m.algorithm)],
        ["model agreement", "", "", _share(m.model_agreement)],
    ]
    return table(["", "documented", "advertised (headers)", "enforced (measured)"], rows)


def _enforced_rate(m: Measured) -> str:
    found = rate_interval(m)
    if found is None:
        offered = m.offered_rate_per_s
        busiest = f"; the busiest bucket was offered {rate(offered)}" if offered else ""
        return f"– (not measured{busiest})"
    over = f", over {m.saturated_seconds:.3g} s saturated" if m.saturated_seconds else ""
    return f"{rate(m.rate_per_s)} (surely {rate_range(*found)}{over})"


def _enforced_burst(m: Measured) -> str:
    if m.burst is None:
        return "–"
    if m.burst_low is None or m.burst_high is None or m.burst_low == m.burst_high:
        return str(m.burst)
    return f"{m.burst} (surely {m.burst_low}..{m.burst_high})"


def _scope(m: Measured) -> str:
    routes = ", per route" if m.per_route else ""
    found = f"{m.scope} ({m.buckets} bucket(s), {m.buckets_per_key} per key{routes})"
    return found + (
        f"; these clients cannot tell it from {', '.join(m.scope_alike)}" if m.scope_alike else ""
    )


def _policies(adv: Advertised) -> str:
    return ", ".join(
        f"{p.name} {p.quota:g}" + (f" per {p.window:g} s" if p.window else "") for p in adv.policies
    )


def _or_dash(value: object) -> str:
    return "–" if value in (None, "") else f"{value:g}" if isinstance(value, float) else str(value)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def run_rows(view: RunView, stats: RecordStats) -> list[list[str]]:
    run = view.run
    totals = run.get("totals") or {}
    offered = totals.get("offered") or 0
    limited = totals.get("limited") or 0
    share = f" ({limited / offered:.1%} of offered)" if offered else ""
    p95 = stats.latency_p95
    rows: list[list[object]] = [
        ["host", run.get("host")],
        ["scenario", run.get("scenario")],
        ["users", run.get("users")],
        ["run time (s)", run.get("run_time")],
        ["started / ended (UTC)", f"{run.get('started_at', '?')} / {run.get('ended_at', '?')}"],
        [
            "requests",
            f"{offered:,} offered, {totals.get('accepted', 0):,} accepted, "
            f"{limited:,} limited{share}, {totals.get('error', 0):,} errors",
        ],
        ["p95 latency", f"accepted {_ms(p95.get('accepted'))}, limited {_ms(p95.get('limited'))}"],
        ["logins", _pairs(run.get("logins"))],
        ["records", _pairs(run.get("records"))],
        ["server version", run.get("server_version_id")],
        ["versions", _pairs(run.get("versions"))],
    ]
    settings = run.get("settings") or {}
    rows += [[f"--{k.replace('_', '-')}", _setting(v)] for k, v in sorted(settings.items())]
    server = _server_settings(view)
    if server:
        rows.append(["reference server", server])
    return [[esc(k), esc(v)] for k, v in rows if v not in (None, "")]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g} ms"


def _pairs(value: object) -> str:
    return ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else ""


def _setting(value: object) -> str:
    if isinstance(value, dict):
        return _pairs(value)
    return "(default)" if value is None else str(value)


def _server_settings(view: RunView) -> str:
    try:
        settings = (read_server(view.folder) or {}).get("settings") or {}
    except (OSError, ValueError):
        return ""
    keep = (
        "per_sec",
        "max_burst",
        "algorithm",
        "dialect",
        "faults",
        "vary_by_remote_addr",
        "vary_by_user",
        "vary_by_header",
        "memory_store_size",
    )
    return ", ".join(f"{k} {settings[k]}" for k in keep if settings.get(k) not in (None, "", []))


def notes(view: RunView) -> list[str]:
    """What a reader should know about the run, first whether it was done as run.json says,
    then its notes as they are (one for each lost worker: the harness writes it), a sentence
    for a lost worker it has none for, and what is not in the folder."""
    run = view.run
    found = [str(n) for n in run.get("notes") or []]
    for worker in run.get("missing_workers") or []:
        if not any(str(worker) in n for n in found):
            found.append(
                f"worker {worker} was lost or sent no last batch: what it sent after "
                "its last batch is not in the run folder"
            )
    done = _how_done(run, found)
    records = run.get("records") or {}
    dropped, stopped = records.get("dropped"), records.get("stopped")
    if dropped and stopped:
        found.append(f"{stopped}: {dropped:,} records were not written (totals are exact)")
    elif dropped:
        found.append(
            f"{dropped:,} records beyond --max-records were not written (totals are exact)"
        )
    if not run:
        found.append("run.json is missing: the run was killed before it wrote it")
    return [done, *found] if done else found


def _how_done(run: dict[str, Any], notes: list[str]) -> str:
    """A run that could not be done (status "failed"), that finished impaired (an exit code
    and its reason: lost workers, outages), or that never finished (killed), as run.json says;
    "" for one that finished whole.  Reasons the notes already give are not repeated."""
    status = run.get("status")
    ended = run.get("exit") or {}
    reason = str(ended.get("reason") or "").removesuffix(" (see notes)")
    if status == "failed":
        return f"the run could not be done: {reason or 'run.json gives no reason'}"
    if status not in (None, "finished"):
        return f"the run did not finish (run.json says {status!r}): it was stopped or killed"
    if not reason:
        return ""
    head = "the run finished but was impaired" + (
        f" (exit code {ended['code']})" if ended.get("code") is not None else ""
    )
    lost = len(run.get("missing_workers") or [])
    if lost:  # what the harness says then; the notes say which workers, and when
        return f"{head}: {lost} worker(s) lost, or silent at the end (below)"
    new = [part for part in reason.split("; ") if part not in notes]
    return head + (f": {'; '.join(new)}" if new else ", as the notes below say")


def figure_tag(name: str, data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{esc(alt)}" title="{esc(name)}">'


def render(view: RunView, stats: RecordStats, figures: Embedded) -> str:
    parts = [
        f"<h1>mmload report: {esc(view.name)}</h1>",
        banner(view),
        "<h2>Checks</h2>",
        table(["", "check", "expected", "observed", "message"], check_rows(view.verdict), raw=True)
        if view.verdict and view.verdict.checks
        else '<p class="muted">none</p>',
        "<h2>Documented, advertised, enforced</h2>",
        limits_table(view),
    ]
    found = notes(view)
    if found:
        parts += [
            "<h2>Notes</h2>",
            '<ul class="notes">',
            *(f"<li>{esc(n)}</li>" for n in found),
            "</ul>",
        ]
    parts += ["<h2>Figures</h2>", *(figure_tag(n, d, a) for n, d, a in figures)]
    parts += ["<h2>The run</h2>", table(["", ""], run_rows(view, stats), raw=True)]
    body = "\n".join(parts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>mmload report: {esc(view.name)}</title><style>{CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )
