"""A verdict written three ways: ``verdict.json`` (everything), ``verdict.xml`` (JUnit, one
testcase per check, for CI test reports) and ``summary.md`` (CI step summaries, people)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mmload.results.folder import write_json
from mmload.verdict import Verdict
from mmload.verdict.checks import ERROR, Check

VERDICT_JSON = "verdict.json"
VERDICT_XML = "verdict.xml"
SUMMARY_MD = "summary.md"


def write(folder: Path, verdict: Verdict) -> None:
    write_json(folder / VERDICT_JSON, verdict.to_dict())
    _write_text(folder / VERDICT_XML, junit(verdict))
    _write_text(folder / SUMMARY_MD, markdown(verdict, folder.name))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def status(check: Check, strict: bool = False) -> str:
    if check.passed is None:
        return "n/a"
    if check.passed:
        return "pass"
    return "FAIL" if check.severity == ERROR or strict else "warning"


def junit(verdict: Verdict) -> str:
    suite = ET.Element("testsuite", name="mmload rate limits", tests=str(len(verdict.checks)))
    failures = skipped = 0
    for check in verdict.checks:
        case = ET.SubElement(suite, "testcase", classname="mmload.verdict", name=check.id)
        state = status(check, verdict.strict)
        detail = f"expected: {check.expected}\nobserved: {check.observed}\n{check.message}"
        if state == "n/a":
            ET.SubElement(case, "skipped", message=check.message)
            skipped += 1
        elif state == "FAIL":
            ET.SubElement(case, "failure", message=check.message).text = detail
            failures += 1
        elif state == "warning":
            ET.SubElement(case, "system-out").text = "warning: " + detail
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    ET.SubElement(suite, "system-out").text = verdict.summary
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(verdict: Verdict, title: str) -> str:
    m, d = verdict.measured, verdict.documented
    mark = "✅" if verdict.passed else "❌"
    burst = "not documented" if d.get("burst") is None else d["burst"]
    lines = [
        f"## {mark} Rate limits: {title}",
        "",
        verdict.summary,
        "",
        "| | documented | advertised | enforced |",
        "|---|---|---|---|",
        f"| rate | {d['per_sec']:g}/s | {_advertised_rate(verdict)} | {_rate(m)} |",
        f"| burst | {burst} | - | {m.get('burst') if m.get('burst') is not None else '-'} |",
        f"| scope | - | - | {m.get('scope')} ({m.get('buckets_per_key')} bucket(s) per key) |",
        f"| algorithm | - | - | {m.get('algorithm')} (model agreement "
        f"{_share(m.get('model_agreement'))}) |",
        "",
        "| check | result | expected | observed | |",
        "|---|---|---|---|---|",
    ]
    for check in verdict.checks:
        lines.append(
            f"| {check.id} | {status(check, verdict.strict)} | {_cell(check.expected)} | "
            f"{_cell(check.observed)} | {_cell(check.message)} |"
        )
    return "\n".join(lines) + "\n"


def _rate(m: dict[str, object]) -> str:
    rate, plus = m.get("rate_per_s"), m.get("rate_uncertainty")
    return "-" if rate is None else f"{rate}/s ± {plus}"


def _advertised_rate(verdict: Verdict) -> str:
    a = verdict.advertised
    if a.get("limit") is None:
        return "-"
    window = f" per {a['window']:g} s" if a.get("window") else ""
    return f"{a['dialect']}: {a['limit']:g}{window}"


def _share(value: object) -> str:
    return "-" if not isinstance(value, float) else f"{value:.1%}"


def text(verdict: Verdict) -> str:
    """For a terminal: the summary, then one line per check."""
    width = max((len(c.id) for c in verdict.checks), default=10)
    lines = [verdict.summary]
    for check in verdict.checks:
        lines.append(f"  {status(check, verdict.strict):7} {check.id:{width}}  {check.message}")
    return "\n".join(lines)
