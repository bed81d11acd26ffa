"""What error responses looked like: for each status, how many of the first few bodies had each
shape.  Only shapes are kept, never a body: an error body may echo what a client sent.

Mattermost answers a 429 with ``limit exceeded`` (text/plain) and every other error with its
AppError JSON (``id``, ``message``, ``detailed_error``, ``request_id``, ``status_code``).
"""

from __future__ import annotations

import json

LIMIT_EXCEEDED = "limit exceeded"
APPERROR = "apperror"
SAMPLED = 20  # bodies looked at per status and process
_APPERROR_KEYS = {"id", "message", "status_code"}

Samples = dict[str, dict[str, int]]  # status (str: JSON keys) -> shape -> count


def shape(body: bytes | None) -> str:
    """``limit exceeded``, ``apperror``, ``json``, ``html``, ``text`` or ``empty``."""
    text = (body or b"").strip()
    if not text:
        return "empty"
    if text == LIMIT_EXCEEDED.encode():
        return LIMIT_EXCEEDED
    if text[:1] in (b"{", b"["):
        try:
            data = json.loads(text)
        except ValueError:
            return "text"
        return APPERROR if isinstance(data, dict) and data.keys() >= _APPERROR_KEYS else "json"
    return "html" if text[:1] == b"<" else "text"


def merge(into: Samples, more: Samples) -> None:
    for status, shapes in more.items():
        mine = into.setdefault(str(status), {})
        for name, n in shapes.items():
            mine[name] = mine.get(name, 0) + int(n)
