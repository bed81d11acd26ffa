"""Everything the verdict measures about a run, in one pass over its buckets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmload.limiter.rate import Documented
from mmload.results.block import Block
from mmload.verdict import measure, models, scope
from mmload.verdict.streams import Stream, split

EPOCH_ABOVE = 1e9  # without a Date to hold it to, a Reset above this is a UNIX time
# what a window model takes from the headers: beyond these, the headers are no limit to replay
MAX_QUOTA = 1_000_000  # requests per window
MIN_WINDOW, MAX_WINDOW = 0.001, 86_400.0 * 366  # seconds


@dataclass
class Measured:
    streams: list[Stream]  # one per bucket, busiest first
    scope: scope.Scope
    rate: float | None
    rate_uncertainty: float | None
    capacity: float | None  # the most any interval let through beyond the rate
    fresh_burst: int | None  # what the busiest bucket let through before its first refusal
    buckets_per_key: int
    algorithm: str
    model_agreement: float | None
    params: models.Params | None
    offered_rate: float  # per bucket, the busiest's
    dialect: str  # the headers the accepted responses carried ("" none)
    limit: float | None  # the most common advertised Limit (or IETF q)
    window: float | None  # seconds, when the dialect says
    reset_semantics: str  # delta, epoch, or "" without Reset

    @property
    def burst(self) -> int | None:
        """Measured MaxBurst: the capacity less the one request a bucket always admits."""
        return None if self.capacity is None else max(0, round(self.capacity) - 1)

    def to_dict(self) -> dict[str, object]:
        return {
            "rate_per_s": _round(self.rate), "rate_uncertainty": _round(self.rate_uncertainty),
            "burst": self.burst, "scope": self.scope.scope,
            "buckets_per_key": self.buckets_per_key, "algorithm": self.algorithm,
            "reset_semantics": self.reset_semantics or "none",
            "model_agreement": _round(self.model_agreement, 4),
            "offered_rate_per_s": _round(self.offered_rate), "fresh_burst": self.fresh_burst,
            "scope_evidence": self.scope.evidence, "buckets": len(self.streams),
            "scope_alike": list(self.scope.also),  # what these clients cannot tell it from
        }  # fmt: skip


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _most_common_text(block: Block, column: str) -> str:
    if not len(block):
        return ""
    counts = np.bincount(block.codes[column])
    return str(block.tables[column][int(np.argmax(counts))])


def _mode(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    found, counts = np.unique(values, return_counts=True)
    return float(found[np.argmax(counts)])


def measure_run(decided: Block, documented: Documented) -> Measured:
    inferred = scope.infer(decided, documented.per_sec)
    streams = split(decided, inferred.grouping)
    estimates = [e for s in streams if (e := measure.enforced_rate(s)) is not None]
    combined = measure.combine(estimates)
    rate, uncertainty = combined if combined else (None, None)
    capacity = None
    if rate is not None:
        busiest = [s for s in streams if s.limited.any()][:5]
        capacity = float(np.median([measure.max_excess(s.t[s.accepted], rate) for s in busiest]))
    accepted = decided.take(decided.numbers["status"] != 429)
    dialect = _most_common_text(accepted, "dialect")
    limit = _mode(accepted.numbers["limit"])
    window = _mode(accepted.numbers["window"])
    buckets = scope.buckets_per_key(streams)
    # several buckets behind each key answer in turn: no one model of one bucket replays that
    params = _params(rate, capacity, limit, window, streams) if buckets == 1 else None
    algorithm, agreement = (
        models.best(params, streams, limit is not None, uncertainty or 0.0) if params
        else ("unknown", None)
    )  # fmt: skip
    return Measured(
        streams, inferred, rate, uncertainty, capacity,
        measure.fresh_burst(streams[0]) if streams else None, buckets,
        algorithm, agreement, params, measure.offered_rate(streams[0]) if streams else 0.0,
        dialect, limit, window, _reset_semantics(decided),
    )  # fmt: skip


def _params(
    rate: float | None,
    capacity: float | None,
    limit: float | None,
    window: float | None,
    streams: list[Stream],
) -> models.Params | None:
    """The models' parameters: GCRA's from what was measured; a window's quota from the
    advertised limit (or the first burst) and its length from quota / rate, in whole seconds
    as ``limits`` keeps them (its windows are aligned to multiples of their length)."""
    if rate is None or capacity is None or rate <= 0:
        return None
    quota = limit if limit and limit >= 1 else measure.fresh_burst(streams[0]) or capacity
    quota = min(quota, MAX_QUOTA)  # a header may say anything; a model holds that many
    shown = window if window and MIN_WINDOW <= window <= MAX_WINDOW else None
    length = shown or min(max(1, round(quota / rate)), MAX_WINDOW)  # windows are whole seconds
    return models.Params(rate, max(1, round(capacity)), max(1, round(quota)), length)


def _reset_semantics(decided: Block) -> str:
    """delta or epoch, as most responses say.  An epoch lies near the response's Date, a delta
    near zero: whichever a Reset is closer to (a server whose clock is wrong still sends an
    epoch near its own Date); without a Date, a Reset above 10^9 is an epoch."""
    reset, date = decided.numbers["reset"], decided.numbers["date"]
    known = np.isfinite(reset)
    if not known.any():
        return ""
    reset, date = reset[known], date[known]
    epoch = np.where(np.isfinite(date), np.abs(reset - date) < np.abs(reset), reset > EPOCH_ABOVE)
    return "epoch" if float(epoch.mean()) > 0.5 else "delta"
