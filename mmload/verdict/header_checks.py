"""Checks of what the rate-limit headers say against what the server enforced."""

from __future__ import annotations

import numpy as np

from mmload.verdict.checks import ERROR, HONEST_SHARE, WARNING, Check, Context, _na
from mmload.verdict.streams import Stream

SLACK = 1.5  # seconds: Reset and Retry-After are whole seconds, rounded up
WAIT_SLACK = 0.05  # seconds after Retry-After: the server counted from when it answered
MIN_WAITS = 3  # quiet waits it takes to judge whether Retry-After is enough


def _with_headers(c: Context) -> list[Stream]:
    return [s for s in c.measured.streams if s.has_headers]


def advertised_limit(c: Context) -> Check:
    """One limit per key, and what it means: the burst capacity, the per-second rate, or a quota
    per window.  Where the dialect states the window (IETF ``w``), the limit must agree with
    what is enforced; what the API documentation says it means is a warning."""
    m = c.measured
    streams = _with_headers(c)
    if m.limit is None or not streams:
        return _na("advertised-limit", ERROR, "-", "no response advertised a limit")
    varying = [s.name for s in streams if len(np.unique(s.limit[np.isfinite(s.limit)])) > 1]
    if varying:
        return Check("advertised-limit", False, ERROR, "one Limit per key", "it changes",
                     f"the advertised limit changes within a key ({varying[0]})")  # fmt: skip
    observed = f"{m.limit:g}" + (f" per {m.window:g} s" if m.window else "")
    k = m.buckets_per_key  # several buckets per key: each answer speaks for its own
    meaning = _meaning(m.limit, m.window, m.rate and m.rate / k, m.capacity and m.capacity / k,
                       c.tolerance)  # fmt: skip
    each = f" of each of the {k} buckets behind a key" if k > 1 else ""
    if m.window and meaning == "unexplained":
        return Check("advertised-limit", False, ERROR,
                     f"the enforced capacity {m.capacity:.0f} or rate {m.rate:.3g}/s", observed,
                     f"the server advertises {observed} but enforces {m.rate:.3g}/s with "
                     f"{m.capacity:.0f} at once")  # fmt: skip
    if c.mattermost and m.dialect in ("mattermost", "epoch") and meaning != "rate":
        what = {"capacity": f"the burst capacity (MaxBurst + 1){each}",
                "quota": f"a quota per window of about {m.limit / (m.rate or 1):.0f} s"}.get(
                    meaning, "neither the enforced rate nor the burst capacity")  # fmt: skip
        return Check("advertised-limit", False, WARNING, "requests per second (the API doc)",
                     observed,
                     f"X-Ratelimit-Limit {m.limit:g} is {what}, not the maximum number of "
                     f"requests per second the API documentation describes; the server "
                     f"enforces {_rate(m.rate)}")  # fmt: skip
    message = f"the advertised limit {observed} is {_words(meaning)}{each}"
    return Check("advertised-limit", True, ERROR, "one limit per key, agreeing with enforcement",
                 observed, message)  # fmt: skip


def _meaning(
    limit: float, window: float | None, rate: float | None, capacity: float | None, tol: float
) -> str:
    """rate, capacity, quota (of a window) or unexplained; "unknown" without measurements."""
    if rate is None or capacity is None:
        return "unknown"
    if abs(limit / (window or 1.0) - rate) <= tol * rate:
        return "rate"
    if abs(limit - capacity) <= max(2.0, tol * capacity):
        return "capacity"
    return "unexplained" if window else "quota"


def _words(meaning: str) -> str:
    return {"rate": "the enforced rate", "capacity": "the enforced burst capacity",
            "quota": "the quota of a window", "unknown": "consistent so far"}[meaning]  # fmt: skip


def _rate(rate: float | None) -> str:
    return "no measurable rate" if rate is None else f"{rate:.3g}/s"


def remaining_consistent(c: Context) -> Check:
    streams = _with_headers(c)
    expected = "0 <= Remaining <= Limit, falling while draining, 0 when refused"
    known = [s for s in streams if np.isfinite(s.remaining).any()]
    if not known:
        return _na("remaining-consistent", ERROR, expected, "no response said what remains")
    total = sum(len(s) for s in known)
    outside = sum(int(((s.remaining < 0) | (s.remaining > s.limit)).sum()) for s in known)
    refused_left = sum(int((s.limited & (s.remaining > 0)).sum()) for s in known)
    stuck = [s.name for s in known if _stuck(s)]
    bad = outside + refused_left
    if bad <= 0.005 * total and not stuck:
        return Check("remaining-consistent", True, ERROR, expected, "consistent",
                     "Remaining stays within 0..Limit, falls while a bucket drains and is 0 "
                     "on refusals")  # fmt: skip
    parts = []
    if outside:
        parts.append(f"{outside} outside 0..Limit")
    if refused_left:
        parts.append(f"{refused_left} refusals with Remaining above 0")
    if stuck:
        parts.append(f"it does not fall while the bucket drains ({stuck[0]})")
    return Check(
        "remaining-consistent",
        False,
        ERROR,
        expected,
        "; ".join(parts),
        "Remaining contradicts what the server enforces: " + "; ".join(parts),
    )


def _stuck(s: Stream) -> bool:
    """Remaining does not fall across the acceptances before the first refusal."""
    refused = np.flatnonzero(s.limited)
    if not len(refused):
        return False
    head = s.remaining[: refused[0]][s.accepted[: refused[0]]]
    head = head[np.isfinite(head)]
    return len(head) >= 5 and head[-1] >= head[0]


def reset_semantics(c: Context) -> Check:
    """Delta or epoch, against the documentation: Mattermost's API doc says an epoch."""
    m = c.measured
    if not m.reset_semantics:
        return _na("reset-semantics", WARNING, "-", "no response said when the limit resets")
    if not (c.mattermost and m.dialect in ("mattermost", "epoch")):
        return Check("reset-semantics", True, WARNING, "-", m.reset_semantics,
                     f"Reset is {m.reset_semantics} seconds")  # fmt: skip
    ok = m.reset_semantics == "epoch"
    message = ("X-Ratelimit-Reset is a UTC epoch, as the API documentation says" if ok else
               "X-Ratelimit-Reset is a delta (seconds until the bucket is full again), while "
               "the API documentation says it is the remaining UTC epoch seconds")  # fmt: skip
    return Check("reset-semantics", ok, WARNING, "UTC epoch seconds (the API doc)",
                 m.reset_semantics, message)  # fmt: skip


def reset_honest(c: Context) -> Check:
    """What Reset promises against what happens: for a token bucket, the time until it is full
    again, (Limit - Remaining) / rate; for a window, acceptance resumes when it resets."""
    m = c.measured
    expected = "Reset agrees with when the bucket is full again (or the window resets)"
    streams = [s for s in _with_headers(c) if np.isfinite(s.reset).any()]
    if not streams or m.rate is None:
        return _na("reset-honest", ERROR, expected, "no Reset, or no rate measured to check it by")
    if m.buckets_per_key > 1:
        return _na("reset-honest", ERROR, expected, f"{m.buckets_per_key} buckets serve each key, "
                   "and each response's Reset speaks for its own")  # fmt: skip
    shares = [_reset_share(s, m.rate, m.algorithm, m.reset_semantics) for s in streams[:10]]
    judged = [(share, n) for share, n in shares if n]
    if not judged:
        return _na("reset-honest", ERROR, expected, "no response to check Reset on")
    n = sum(k for _, k in judged)
    share = sum(f * k for f, k in judged) / n
    observed = f"{share:.0%} of {n} agree"
    if share >= HONEST_SHARE:
        return Check("reset-honest", True, ERROR, expected, observed,
                     f"Reset agrees with what the server does ({observed})")  # fmt: skip
    return Check("reset-honest", False, ERROR, expected, observed,
                 f"Reset does not say when the limit resets: only {observed}")  # fmt: skip


def _reset_share(s: Stream, rate: float, algorithm: str, semantics: str) -> tuple[float, int]:
    reset = s.reset - (s.date if semantics == "epoch" else 0.0)
    if algorithm == "gcra":
        ok = np.isfinite(reset) & np.isfinite(s.remaining) & np.isfinite(s.limit)
        full = (s.limit[ok] - s.remaining[ok]) / rate
        return _share(np.abs(reset[ok] - full) <= 1.0 + SLACK + 0.05 * full), int(ok.sum())
    refused = np.flatnonzero(s.limited & np.isfinite(reset))[:10_000]
    resumed = _next_acceptance(s, refused)
    known = np.isfinite(resumed)
    wait = resumed[known] - s.t[refused][known]
    promised = reset[refused][known]
    return _share(np.abs(wait - promised) <= 1.0 + SLACK), int(known.sum())


def _next_acceptance(s: Stream, rows: np.ndarray) -> np.ndarray:
    """For each row, the send time of the next accepted request in the stream (NaN if none)."""
    accepted = np.flatnonzero(s.accepted)
    k = np.searchsorted(accepted, rows, side="right")
    out = np.full(len(rows), np.nan)
    inside = k < len(accepted)
    out[inside] = s.t[accepted[k[inside]]]
    return out


def retry_after_honest(c: Context) -> Check:
    """On every 429; and honest: after a refusal, when nothing else was accepted until its
    Retry-After had passed (polite clients wait it out), the first request sent after it is
    accepted.  Under a hammer other requests take what comes back first, so only quiet waits
    can be judged."""
    expected = "Retry-After on every 429, and a request sent after it is accepted"
    streams = c.measured.streams
    refused = sum(int(s.limited.sum()) for s in streams)
    if not refused:
        return _na("retry-after-honest", ERROR, expected, "nothing was refused")
    missing = sum(int((s.limited & ~np.isfinite(s.retry_after)).sum()) for s in streams)
    if missing == refused and not c.measured.dialect:
        return Check("retry-after-honest", False, WARNING, expected, "no Retry-After",
                     "no 429 said when to retry, nor did any response carry rate-limit headers "
                     "(nginx's limit_req, say): RFC 6585 makes Retry-After optional, but clients "
                     "can only guess when to come back")  # fmt: skip
    if missing:
        return Check("retry-after-honest", False, ERROR, expected,
                     f"{missing} of {refused} 429s without it",
                     f"{missing} of {refused} refusals carried no Retry-After")  # fmt: skip
    hits = np.concatenate([_after_quiet_waits(s) for s in streams[:20]] or [np.array([])])
    if len(hits) < MIN_WAITS:
        return Check("retry-after-honest", True, ERROR, expected, f"present on all {refused}",
                     "every 429 said how long to wait (too few waited it out to tell whether "
                     "that was enough: the polite scenario tells)")  # fmt: skip
    share = float(hits.mean())
    observed = f"present on all {refused}; {share:.0%} of {len(hits)} requests after it accepted"
    ok = share >= HONEST_SHARE
    message = (
        "every 429 said how long to wait, and waiting that long was enough"
        if ok
        else f"after waiting Retry-After, only {share:.0%} of requests were accepted"
    )
    return Check("retry-after-honest", ok, ERROR, expected, observed, message)


def _after_quiet_waits(s: Stream) -> np.ndarray:
    """For each refusal after which nothing was accepted until its Retry-After had passed,
    whether the first request sent after that was accepted.  A refused one sent within
    ``WAIT_SLACK`` of the moment proves nothing (the server counted from when it answered)."""
    rows = np.flatnonzero(s.limited)
    due = s.t[rows] + s.retry_after[rows]
    probes = np.searchsorted(s.t, due)
    inside = probes < len(s)
    rows, probes, due = rows[inside], probes[inside], due[inside]
    done = np.concatenate([[0], np.cumsum(s.accepted)])  # acceptances before each row
    quiet = done[probes] - done[rows + 1] == 0  # none accepted in between
    accepted = s.accepted[probes]
    telling = quiet & (accepted | (s.t[probes] >= due + WAIT_SLACK))
    return accepted[telling]


def limited_response_shape(c: Context) -> Check:
    expected = "429s carry the rate-limit headers the other responses carry"
    m = c.measured
    if not m.dialect:
        return _na("limited-response-shape", ERROR, expected, "no response carried rate-limit "
                   "headers")  # fmt: skip
    refused = [s for s in m.streams if s.limited.any()]
    if not refused:
        return _na("limited-response-shape", ERROR, expected, "nothing was refused")
    total = sum(int(s.limited.sum()) for s in refused)
    bare = sum(int((s.limited & ~np.isfinite(s.limit) & ~np.isfinite(s.remaining)).sum())
               for s in refused)  # fmt: skip
    if bare <= 0.01 * total:
        return Check("limited-response-shape", True, ERROR, expected, f"{m.dialect} headers",
                     f"429s carry the {m.dialect} headers too")  # fmt: skip
    return Check("limited-response-shape", False, ERROR, expected,
                 f"{bare} of {total} 429s without them",
                 f"{bare} of {total} refusals carried none of the {m.dialect} headers the "
                 "accepted responses carry")  # fmt: skip


def headers_well_formed(c: Context) -> Check:
    """Rate-limit headers that cannot be read are ignored, as the IETF draft says to; a server
    that sends them advertises nothing a client can use.  Not what it enforces: a warning."""
    expected = "rate-limit headers a client can read"
    u = c.unread
    if not u.malformed:
        if not c.measured.dialect:
            return _na("headers-well-formed", WARNING, expected, "no rate-limit header was sent")
        return Check("headers-well-formed", True, WARNING, expected, "all well-formed",
                     "every rate-limit header could be read")  # fmt: skip
    observed = f"{u.malformed} of {u.answered} responses"
    return Check("headers-well-formed", False, WARNING, expected, observed,
                 f"{observed} had rate-limit headers that could not be read, and were ignored "
                 f"(e.g. {u.example})")  # fmt: skip


def _share(hits: np.ndarray) -> float:
    return float(hits.mean()) if len(hits) else 1.0


HEADER_CHECKS = (advertised_limit, remaining_consistent, reset_semantics, reset_honest,
                 retry_after_honest, limited_response_shape, headers_well_formed)  # fmt: skip
