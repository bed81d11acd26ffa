"""Whether a run could be done and whether it is complete, and the exit status that follows: pure
functions of the run's totals, which change nothing they are given.

A run *fails* when it could not be done (nothing sent, no login succeeded, nothing answered
successfully); it is *impaired* when it could be done but is incomplete (workers lost or silent at
the end, outages of the target, too many failed requests, users that gave up).  Either way it
exits :attr:`ExitStatus.RUN_FAILED`; otherwise its verdict decides (:func:`with_verdict`), and an
impaired run's verdict may still make it exit 1 or keep its 3 over a 4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmload.exitcodes import ExitStatus
from mmload.results.outages import Outage, error_share_note, stopped_users_note
from mmload.results.tally import Tally


@dataclass(frozen=True)
class Diagnosis:
    notes: list[str]  # the run's notes, then the faults found in it
    failure: str  # why the run could not be done, or ""
    impairment: str  # why a run that could be done is incomplete, or ""
    status: ExitStatus | None  # RUN_FAILED if the run failed or is impaired; None: the verdict's

    @property
    def reason(self) -> str:
        return self.failure or self.impairment


def diagnose(
    tally: Tally,
    counters: Mapping[str, int],
    notes: Sequence[str],
    missing_workers: Sequence[str],
    outages: Sequence[Outage],
) -> Diagnosis:
    """The diagnosis of a run from its totals, the events its users counted, its notes so far,
    the workers lost or silent at the end and the outages of its timeline.  The faults of a run
    that could be done are added to its notes; a failed run's notes are kept as they are."""
    reason = failure(tally)
    found = [] if reason else faults(tally, counters, outages)
    impairment = "" if reason else impaired(found, missing_workers)
    status = ExitStatus.RUN_FAILED if reason or impairment else None
    return Diagnosis([*notes, *found], reason, impairment, status)


def failure(tally: Tally) -> str:
    """Why the run could not be done, or "" when it could."""
    totals, logins = tally.totals(), tally.logins()
    if totals["offered"] == 0:
        return "no request was sent"
    if logins["attempted"] and not logins["succeeded"]:
        limited = logins["limited"]
        refusals = " or ".join(str(s) for s in tally.login_refusals())
        why = f", {limited} of them answered {refusals} (rate-limited)" if limited else ""
        return f"no login succeeded ({logins['attempted']} attempts{why})"
    work = tally.totals(logins=False)
    if work["offered"] and not (work["accepted"] or work["limited"]):
        statuses = sorted({s for st in tally.by_endpoint.values() for s in st})
        shown = ", ".join(str(s) if s else "no answer" for s in statuses)
        return f"the target never answered a request successfully (statuses: {shown})"
    return ""


def faults(tally: Tally, counters: Mapping[str, int], outages: Sequence[Outage]) -> list[str]:
    """What went wrong in a run that could be done, in sentences: outages of the target,
    too many failed requests, users that gave up (:mod:`mmload.results.outages`)."""
    work = tally.totals(logins=False)
    found = [o.note() for o in outages]
    found.append("" if outages else error_share_note(work["error"], work["offered"]))
    found.append(stopped_users_note(counters))
    return [f for f in found if f]


def impaired(faults: Sequence[str], missing_workers: Sequence[str]) -> str:
    """Why a run that could be done is incomplete, or "": workers lost or silent at the end say
    it first, else its faults."""
    lost = len(missing_workers)
    if lost:
        return (
            f"{lost} worker(s) lost, or silent at the end: what they sent after their "
            "last batch is not in the run folder (see notes)"
        )
    return "; ".join(faults)


def with_verdict(code: int | None, verdict: int) -> tuple[int, str]:
    """The process's exit code once ``mmload verify`` exited ``verdict``, from the ``code`` it
    had, and what to say about it ("" for nothing): a nonconforming server exits 1; a verdict
    that could not decide exits 4 unless the run already exits nonzero (an impaired run's 3 says
    more); a verdict that could not be computed exits 3; a pass exits 0 unless the run was
    impaired.  Always a code: Locust's ``--exit-code-on-error`` (1 on any failed request) never
    decides a run the verdict judged; failures count through the impairment threshold."""
    if verdict == ExitStatus.NONCONFORMANT:
        return int(ExitStatus.NONCONFORMANT), ""
    if verdict == ExitStatus.INCONCLUSIVE:
        return (code if code else int(ExitStatus.INCONCLUSIVE)), ""
    if verdict != ExitStatus.OK:
        return int(ExitStatus.RUN_FAILED), f"could not compute the verdict (exit {verdict})"
    return (code if code is not None else int(ExitStatus.OK)), ""
