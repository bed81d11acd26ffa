"""What else a reader of a verdict should know: responses that look like refusals the run did
not count as such (nginx's ``limit_req`` answers 503 unless told otherwise)."""

from __future__ import annotations

import numpy as np

from mmload.results.block import Block
from mmload.verdict.rates import quick_rate
from mmload.verdict.streams import decided, split

MIN_SEEN = 10  # responses of a status it takes to tell a pattern
NARROW = 0.25  # a rate measured this precisely is a limiter's, not chance


def for_run(block: Block, limited: tuple[int, ...]) -> list[str]:
    found = []
    statuses, counts = np.unique(block.numbers["status"], return_counts=True)
    for status, n in zip(statuses.tolist(), counts.tolist(), strict=True):
        if status in limited or status < 400 or n < MIN_SEEN or status in (401, 404):
            continue
        rate = refusal_pattern(block, (*limited, status), status)
        if rate is not None:
            option = ",".join(str(s) for s in sorted({*limited, status}))
            found.append(
                f"{n} responses were {status}s in a rate limiter's pattern (quick, and only "
                f"once a key was offered more than {rate:.3g}/s): if they are refusals (nginx's "
                f"limit_req answers 503 unless limit_req_status says otherwise), run again "
                f"with --limited-status {option}"
            )
    return found


def refusal_pattern(block: Block, limited: tuple[int, ...], status: int) -> float | None:
    """The rate a limiter refusing with ``status`` would enforce, when the responses of that
    status look like its refusals: answered no slower than the acceptances, and a saturated
    rate measured precisely from them; None otherwise."""
    latency, answered = block.numbers["latency_ms"], block.numbers["status"]
    refusals, accepted = answered == status, (answered > 0) & (answered < 400)
    if not accepted.any() or np.median(latency[refusals]) > 2 * np.median(latency[accepted]):
        return None
    streams = split(decided(block, limited), "key")
    measured = [i for s in streams[:5] if (i := quick_rate(s)) is not None]
    narrow = [i for i in measured if np.isfinite(i.high) and i.width <= NARROW]
    return float(np.median([i.rate for i in narrow])) if narrow else None
