"""A verdict written three ways: ``verdict.json`` (everything, :mod:`schema`), ``verdict.xml``
(JUnit, one testcase per check, for CI test reports) and ``summary.md`` (CI step summaries,
people); and as text for a terminal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mmload.results.folder import atomic_write
from mmload.verdict import schema
from mmload.verdict.schema import ERROR, FAIL, PASS, Check, Measured, Verdict

VERDICT_JSON = schema.VERDICT_JSON
VERDICT_XML = "verdict.xml"
SUMMARY_MD = "summary.md"
MARKS = {PASS: "✅", FAIL: "❌"}  # anything else: inconclusive
HEADINGS = {PASS: "PASS", FAIL: "FAIL"}


def write(folder: Path, verdict: Verdict) -> None:
    schema.write_json(folder, verdict)
    atomic_write(folder / VERDICT_XML, junit(verdict))
    atomic_write(folder / SUMMARY_MD, markdown(verdict, folder.name))


def status(check: Check, strict: bool = False) -> str:
    if check.passed is None:
        return "undecided" if check.message.startswith("not decided") else "n/a"
    if check.passed:
        return "pass"
    return "FAIL" if check.severity == ERROR or strict else "warning"


def heading(verdict: Verdict) -> str:
    """PASS, FAIL or INCONCLUSIVE."""
    return HEADINGS.get(verdict.outcome, "INCONCLUSIVE")


def junit(verdict: Verdict) -> str:
    """Failures for failed checks; an inconclusive run's undecided checks of its intent are
    errors (the run could not say), other undecided checks skipped."""
    suite = ET.Element("testsuite", name="mmload rate limits", tests=str(len(verdict.checks)))
    failures = errors = skipped = 0
    for check in verdict.checks:
        case = ET.SubElement(suite, "testcase", classname="mmload.verdict", name=check.id)
        state = status(check, verdict.strict)
        detail = f"expected: {check.expected}\nobserved: {check.observed}\n{check.message}"
        if check.diagnosis:
            detail += f"\nlikely cause: {check.diagnosis}"
        if state == "FAIL":
            ET.SubElement(case, "failure", message=check.message).text = detail
            failures += 1
        elif check.passed is None and check.id in verdict.intent:
            ET.SubElement(case, "error", message=check.message).text = detail
            errors += 1
        elif check.passed is None:
            ET.SubElement(case, "skipped", message=check.message)
            skipped += 1
        elif state == "warning":
            ET.SubElement(case, "system-out").text = "warning: " + detail
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    ET.SubElement(suite, "system-out").text = "\n".join([verdict.summary, *verdict.notes])
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(verdict: Verdict, title: str) -> str:
    m, d = verdict.measured, verdict.documented
    mark = MARKS.get(verdict.outcome, "❔")
    burst = "not documented" if d.burst is None else d.burst
    lines = [
        f"## {mark} Rate limits: {title} ({heading(verdict)})",
        "",
        verdict.summary,
        "",
        *[f"> {note}" for note in verdict.notes],
        "",
        "| | documented | advertised | enforced |",
        "|---|---|---|---|",
        f"| rate | {d.per_sec:g}/s | {_advertised_rate(verdict)} | {rate_text(m)} |",
        f"| burst | {burst} | - | {'-' if m.burst is None else m.burst} |",
        f"| scope | - | - | {m.scope} ({m.buckets_per_key} bucket(s) per key"
        f"{', per route' if m.per_route else ''}) |",
        f"| algorithm | - | - | {m.algorithm} (model agreement {_share(m.model_agreement)}) |",
        "",
        "| check | result | expected | observed | |",
        "|---|---|---|---|---|",
    ]
    for check in verdict.checks:
        cause = f" Likely cause: {check.diagnosis}" if check.diagnosis else ""
        lines.append(
            f"| {check.id} | {status(check, verdict.strict)} | {_cell(check.expected)} | "
            f"{_cell(check.observed)} | {_cell(check.message + cause)} |"
        )
    if verdict.not_verified:
        lines += ["", f"Not verified: {', '.join(verdict.not_verified)}."]
    return "\n".join(lines) + "\n"


def rate_text(m: Measured) -> str:
    """The enforced rate and the interval it surely lies in."""
    if m.rate_per_s is None:
        return "-"
    if m.rate_low is None:  # a verdict.json from before intervals: the point alone
        return f"{m.rate_per_s:g}/s"
    high = "∞" if m.rate_high is None else f"{m.rate_high:g}"
    return f"{m.rate_per_s:g}/s ({m.rate_low:g}..{high})"


def _advertised_rate(verdict: Verdict) -> str:
    a = verdict.advertised
    if a.limit is None:
        return "-"
    window = f" per {a.window:g} s" if a.window else ""
    return f"{a.dialect}: {a.limit:g}{window}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def text(verdict: Verdict) -> str:
    """For a terminal: the summary, the notes, then one line per check."""
    width = max((len(c.id) for c in verdict.checks), default=10)
    lines = [verdict.summary, *(f"note: {n}" for n in verdict.notes)]
    for check in verdict.checks:
        lines.append(f"  {status(check, verdict.strict):9} {check.id:{width}}  {check.message}")
        if check.diagnosis:
            lines.append(f"  {'':9} {'':{width}}  likely cause: {check.diagnosis}")
    return "\n".join(lines)


def github_annotations(verdict: Verdict) -> list[str]:
    """GitHub Actions workflow commands (``::error``/``::warning``): one per failed check and per
    warning, and one ``::warning`` when the run is inconclusive, so that they show on the job's
    page.  https://docs.github.com/actions/reference/workflow-commands-for-github-actions"""
    found = []
    for check in verdict.checks:
        kind = status(check, verdict.strict)
        if kind in ("FAIL", "warning"):
            level = "error" if kind == "FAIL" else "warning"
            why = check.message + (f" (likely cause: {check.diagnosis})" if check.diagnosis else "")
            found.append(f"::{level} title={_property(f'mmload {check.id}')}::{_data(why)}")
    if heading(verdict) == "INCONCLUSIVE":
        found.append(f"::warning title=mmload inconclusive::{_data(verdict.summary)}")
    return found


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
