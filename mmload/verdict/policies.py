"""Every IETF policy a response lists, tallied so that each can be judged, not only the one
that binds (the one a record's own Limit and Remaining come from).

A server that enforces ``"burst";q=10;w=1`` and ``"daily";q=300;w=60`` lists both in every
answer.  Each must keep one quota per key, say no more is left than its quota, and a refusal
must come with some policy that has nothing left.  The records keep the list as text
(``Record.policies``), a few distinct values per second; this reads each distinct value once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmload.dialects import ietf
from mmload.dialects.structured import Malformed
from mmload.results.block import Block
from mmload.verdict import streams


@dataclass(frozen=True)
class PolicyTally:
    names: tuple[str, ...] = ()  # every policy listed, by name
    answers: int = 0  # answers that listed several policies
    outside: dict[str, int] = field(default_factory=dict)  # policy -> answers with r outside 0..q
    varying: tuple[str, ...] = ()  # policies whose quota changed within a key
    refused_with_room: int = 0  # refusals where every listed policy had something left
    refused: int = 0  # refusals that listed several policies


def tally(requests: Block) -> PolicyTally:
    """The policies of ``requests`` (decided: each marked refused or not), per policy name."""
    codes, table = requests.codes["policies"], requests.tables["policies"]
    parsed: dict[int, dict[str, dict[str, int]]] = {}
    for code in np.unique(codes).tolist():
        if table[code]:
            try:
                parsed[code] = ietf.read_policies(table[code])
            except Malformed:  # written by mmload itself; a damaged folder is not a finding
                continue
    if not parsed:
        return PolicyTally()
    rows = np.isin(codes, np.fromiter(parsed, np.int64, len(parsed)))
    names = tuple(sorted({n for found in parsed.values() for n in found}))
    refused = streams.refused(requests)
    groups = (
        requests.codes["key"].astype(np.int64) * max(len(requests.tables["bucket"]), 1)
        + requests.codes["bucket"]
    )
    outside, varying = {}, []
    room = np.ones(len(codes), dtype=bool)
    for name in names:
        q = _column(parsed, name, "q", len(table))[codes]
        r = _column(parsed, name, "r", len(table))[codes]
        known = rows & np.isfinite(r)
        outside[name] = int((known & ((r < 0) | (r > q))).sum())
        room &= ~known | (r > 0)
        if _changes(q[rows], groups[rows]):
            varying.append(name)
    listed_refusals = rows & refused
    return PolicyTally(
        names,
        int(rows.sum()),
        outside,
        tuple(varying),
        int((listed_refusals & room).sum()),
        int(listed_refusals.sum()),
    )


def _column(
    parsed: dict[int, dict[str, dict[str, int]]], name: str, param: str, size: int
) -> np.ndarray:
    """One parameter of one policy by table code (NaN where not listed)."""
    values = np.full(max(size, 1), np.nan)
    for code, found in parsed.items():
        if param in found.get(name, {}):
            values[code] = found[name][param]
    return values


def _changes(q: np.ndarray, groups: np.ndarray) -> bool:
    """Whether some group (a key's bucket) saw two values of q."""
    known = np.isfinite(q)
    q, groups = q[known], groups[known]
    if not len(q):
        return False
    _, index = np.unique(groups, return_inverse=True)
    low = np.full(index.max() + 1, np.inf)
    high = np.full(index.max() + 1, -np.inf)
    np.minimum.at(low, index, q)
    np.maximum.at(high, index, q)
    return bool((low != high).any())
