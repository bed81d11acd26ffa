"""Checks of what the rate-limit headers say against what the server enforced and what its
documentation says; whether their promises come true is :mod:`mmload.verdict.honesty`'s."""

from __future__ import annotations

import numpy as np

from mmload.limiter.rate import Documented
from mmload.verdict.findings import Context, Finding, na
from mmload.verdict.schema import WARNING
from mmload.verdict.streams import Stream

FIELDS = {"limit": "Limit", "remaining": "Remaining", "reset": "Reset", "window": "the window"}


def _with_headers(c: Context) -> list[Stream]:
    return [s for s in c.measured.streams if s.has_headers]


def advertised_limit(c: Context) -> Finding:
    """One limit per key, and what it means: the burst capacity, the per-second rate, or a quota
    per window, by what was enforced (without a measured rate: by the documented values).  A
    limit that contradicts what is enforced is an error; where Mattermost's API documentation
    says it means something else, a warning."""
    m = c.measured
    expected = "one limit per key, agreeing with enforcement"
    if m.limit is None or not _with_headers(c):
        return na(expected, "no response advertised a limit")
    varying = [s.name for s in _with_headers(c) if _varies(s)]
    if varying:
        return Finding(
            False,
            expected,
            "it changes",
            f"the advertised limit changes within a key ({varying[0]})",
        )
    observed = f"{m.limit:g}" + (f" per {m.window:g} s" if m.window else "")
    k = m.buckets_per_key  # several buckets per key: each answer speaks for its own
    meaning = _meaning(
        m.limit, m.window, m.rate and m.rate / k, m.capacity and m.capacity / k, c.tolerance
    )
    if meaning == "unexplained":
        return Finding(
            False,
            expected,
            observed,
            f"the server advertises {observed} but enforces {m.rate:.3g}/s with "
            f"{m.capacity:.0f} at once",
        )
    if meaning == "unknown":
        meaning = _documented_meaning(m.limit, m.window, c.documented, c.tolerance)
    if meaning == "unknown":
        return na(
            expected,
            f"no rate was measured, and {observed} is neither the documented "
            f"{c.documented.per_sec:g}/s nor its burst capacity",
        )
    if _mattermost_headers(c) and not meaning.endswith("rate"):
        return _against_api_doc(c, meaning, observed)
    each = f" of each of the {k} buckets behind a key" if k > 1 else ""
    return Finding(
        True,
        expected,
        observed,
        f"the advertised limit {observed} is {_words(meaning, c)}{each}"
        f"{_as_documented(meaning, c)}",
    )


def _varies(s: Stream) -> bool:
    """Whether one policy of the stream's (an IETF response names the one it speaks of) ever
    advertised two limits."""
    known = np.isfinite(s.limit)
    policy, limit = s.policy[known], s.limit[known]
    for code in np.flatnonzero(np.bincount(policy)) if len(policy) else ():
        values = limit[policy == code]
        if values.min() != values.max():
            return True
    return False


def _meaning(
    limit: float, window: float | None, rate: float | None, capacity: float | None, tol: float
) -> str:
    """rate, capacity, quota (of a window), or unexplained: what the limit is of what was
    enforced; "unknown" without a measured rate.  A quota of any window lets at most twice
    itself through at once (a fixed window's boundary), so more than that explains nothing."""
    if rate is None or capacity is None:
        return "unknown"
    if abs(limit / (window or 1.0) - rate) <= tol * rate:
        return "rate"
    if abs(limit - capacity) <= max(2.0, tol * capacity):
        return "capacity"
    if window or capacity > 2 * limit * (1 + tol) + 2:
        return "unexplained"
    return "quota"


def _documented_meaning(limit: float, window: float | None, doc: Documented, tol: float) -> str:
    """What the limit is of the documented values: "documented rate", "documented capacity",
    or "unknown"."""
    if abs(limit / (window or 1.0) - doc.per_sec) <= tol * doc.per_sec:
        return "documented rate"
    if doc.capacity is not None and abs(limit - doc.capacity) <= max(2.0, tol * doc.capacity):
        return "documented capacity"
    return "unknown"


def _as_documented(meaning: str, c: Context) -> str:
    """Whether the enforced rate or capacity the limit is, is the documented one too."""
    m, doc = c.measured, c.documented
    if meaning == "capacity" and doc.capacity is None:
        return " (the documentation gives no burst)"
    if meaning not in ("rate", "capacity"):
        return ""
    if _documented_meaning(m.limit or 0.0, m.window, doc, c.tolerance) == f"documented {meaning}":
        return ", as documented"
    said = f"{doc.per_sec:g}/s" if meaning == "rate" else f"{doc.capacity} at once"
    return f", while the documentation says {said}"


def _mattermost_headers(c: Context) -> bool:
    """X-Ratelimit headers of a Mattermost target, which its API documentation describes."""
    return c.mattermost and c.measured.dialect in ("mattermost", "epoch")


def _against_api_doc(c: Context, meaning: str, observed: str) -> Finding:
    """Mattermost's API documentation says Limit is requests per second: a warning."""
    m = c.measured
    limit = m.limit or 0.0
    each = (
        f" of each of the {m.buckets_per_key} buckets behind a key" if m.buckets_per_key > 1 else ""
    )
    what = {
        "capacity": f"the burst capacity (MaxBurst + 1){each}",
        "documented capacity": "the documented burst capacity (MaxBurst + 1)",
        "quota": f"a quota per window of about {limit / (m.rate or 1):.0f} s",
    }
    return Finding(
        False,
        "requests per second (the API doc)",
        observed,
        f"X-Ratelimit-Limit {limit:g} is {what[meaning]}, not the maximum number of "
        f"requests per second the API documentation describes; the server enforces "
        f"{_rate(m.rate)}",
        severity=WARNING,
    )


def _words(meaning: str, c: Context) -> str:
    doc = c.documented
    return {
        "rate": "the enforced rate",
        "capacity": "the enforced burst capacity",
        "quota": "the quota of a window",
        "documented rate": f"the documented {doc.per_sec:g}/s (no rate was measured to hold it to)",
        "documented capacity": f"the documented burst capacity ({doc.capacity}; no rate "
        "was measured to hold it to)",
    }[meaning]


def _rate(rate: float | None) -> str:
    return "no measurable rate" if rate is None else f"{rate:.3g}/s"


def remaining_consistent(c: Context) -> Finding:
    streams = _with_headers(c)
    expected = "0 <= Remaining <= Limit, falling while draining, 0 when refused"
    known = [s for s in streams if np.isfinite(s.remaining).any()]
    if not known:
        return na(expected, "no response said what remains")
    total = sum(len(s) for s in known)
    outside = sum(int(((s.remaining < 0) | (s.remaining > s.limit)).sum()) for s in known)
    refused_left = sum(int((s.limited & (s.remaining > 0)).sum()) for s in known)
    stuck = [s.name for s in known if _stuck(s)]
    bad = outside + refused_left
    if bad <= 0.005 * total and not stuck:
        return Finding(
            True,
            expected,
            "consistent",
            "Remaining stays within 0..Limit, falls while a bucket drains and is 0 on refusals",
        )
    parts = []
    if outside:
        parts.append(f"{outside} outside 0..Limit")
    if refused_left:
        parts.append(f"{refused_left} refusals with Remaining above 0")
    if stuck:
        parts.append(f"it does not fall while the bucket drains ({stuck[0]})")
    return Finding(
        False,
        expected,
        "; ".join(parts),
        "Remaining contradicts what the server enforces: " + "; ".join(parts),
    )


def each_policy_consistent(c: Context) -> Finding:
    """Every IETF policy an answer lists, judged on its own (the binding one is what Limit and
    Remaining are judged by): one quota per key, 0 <= r <= q, and a policy with nothing left
    on every refusal."""
    p = c.policies
    expected = "each policy: one quota per key, 0 <= r <= q, one with r = 0 on each refusal"
    if not p.answers:
        return na(expected, "no answer listed several IETF policies")
    parts = [
        f"{p.outside[n]} answers with {n}'s r outside 0..q"
        for n in p.names
        if p.outside[n] > 0.005 * p.answers
    ]
    parts += [f"{n}'s quota changes within a key" for n in p.varying]
    if p.refused_with_room > 0.005 * max(p.refused, 1):
        parts.append(
            f"{p.refused_with_room} of {p.refused} refusals with something left in every policy"
        )
    listed = ", ".join(p.names)
    if not parts:
        refusals = ", and every refusal has one with nothing left" if p.refused else ""
        return Finding(
            True,
            expected,
            f"{len(p.names)} policies",
            f"each of the {len(p.names)} policies ({listed}) keeps one quota per key "
            f"and 0 <= r <= q over {p.answers} answers{refusals}",
        )
    return Finding(
        False,
        expected,
        "; ".join(parts),
        f"a policy contradicts itself ({listed} listed): " + "; ".join(parts),
    )


def _stuck(s: Stream) -> bool:
    """Remaining does not fall across the acceptances before the first refusal."""
    refused = np.flatnonzero(s.limited)
    if not len(refused):
        return False
    head = s.remaining[: refused[0]][s.accepted[: refused[0]]]
    head = head[np.isfinite(head)]
    return len(head) >= 5 and head[-1] >= head[0]


def reset_semantics(c: Context) -> Finding:
    """Delta or epoch, against what documents it: Mattermost's API doc says an epoch, the IETF
    drafts a delta; for the X-Ratelimit names elsewhere, nothing says which."""
    m = c.measured
    if not m.reset_semantics:
        return na("-", "no response said when the limit resets")
    if m.dialect.startswith("ietf"):
        ok = m.reset_semantics == "delta"
        message = (
            "Reset is a delta in seconds, as the IETF draft says"
            if ok
            else "Reset is a UTC epoch, while the IETF draft says it is a delta in seconds"
        )
        return Finding(ok, "delta seconds (the IETF draft)", m.reset_semantics, message)
    if not _mattermost_headers(c):
        return na(
            "-",
            f"Reset is {m.reset_semantics} seconds, and no documentation says which it should be",
        )
    ok = m.reset_semantics == "epoch"
    message = (
        "X-Ratelimit-Reset is a UTC epoch, as the API documentation says"
        if ok
        else "X-Ratelimit-Reset is a delta (seconds until the bucket is full again), while "
        "the API documentation says it is the remaining UTC epoch seconds"
    )
    return Finding(ok, "UTC epoch seconds (the API doc)", m.reset_semantics, message)


def limited_response_shape(c: Context) -> Finding:
    """A 429 carries every rate-limit header its bucket's other responses carry."""
    expected = "429s carry the rate-limit headers the other responses carry"
    m = c.measured
    if not m.dialect:
        return na(expected, "no response carried rate-limit headers")
    refused = [s for s in m.streams if s.limited.any()]
    if not refused:
        return na(expected, "nothing was refused")
    usual = _usual_fields(m.streams)
    lacking = [_lacking(s, _usual_fields([s]) if s.accepted.any() else usual) for s in refused]
    total = sum(int(s.limited.sum()) for s in refused)
    short = sum(n for n, _ in lacking)
    if short <= 0.01 * total:
        return Finding(
            True, expected, f"{m.dialect} headers", f"429s carry the {m.dialect} headers too"
        )
    names = [FIELDS[f] for f in FIELDS if any(f in fields for _, fields in lacking)]
    return Finding(
        False,
        expected,
        f"{short} of {total} 429s without {', '.join(names)}",
        f"{short} of {total} refusals lacked rate-limit headers ({', '.join(names)}) "
        f"that the other responses of their bucket carry",
    )


def _usual_fields(streams: list[Stream]) -> list[str]:
    """The header fields most accepted responses of these streams carry."""
    accepted = max(1, sum(int(s.accepted.sum()) for s in streams))
    return [
        f
        for f in FIELDS
        if sum(int(np.isfinite(getattr(s, f)[s.accepted]).sum()) for s in streams) > accepted / 2
    ]


def _lacking(s: Stream, fields: list[str]) -> tuple[int, set[str]]:
    """How many of the stream's refusals lack one of ``fields`` or more, and which fields."""
    missing = {f: ~np.isfinite(getattr(s, f)[s.limited]) for f in fields}
    short = np.zeros(int(s.limited.sum()), dtype=bool)
    for gone in missing.values():
        short |= gone
    return int(short.sum()), {f for f, gone in missing.items() if gone.any()}


def headers_well_formed(c: Context) -> Finding:
    """Rate-limit headers that cannot be read are ignored, as the IETF draft says to; a server
    that sends them advertises nothing a client can use.  Not what it enforces: a warning."""
    expected = "rate-limit headers a client can read"
    u = c.unread
    if not u.malformed:
        if not c.measured.dialect:
            return na(expected, "no rate-limit header was sent")
        return Finding(True, expected, "all well-formed", "every rate-limit header could be read")
    observed = f"{u.malformed} of {u.answered} responses"
    return Finding(
        False,
        expected,
        observed,
        f"{observed} had rate-limit headers that could not be read, and were ignored "
        f"(e.g. {u.example})",
    )
