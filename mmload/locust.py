"""mmload in a locustfile of your own: ``from mmload.locust import RateLimitedUser``.

- :class:`RateLimitedUser`: a ``FastHttpUser`` for any HTTP API, no login.  Its ``call()``
  marks refusals (429, or ``--limited-status``) as limited rather than failed; every response's
  rate-limit headers are collected; the rate-limit key is ``rate_limit_key`` (hashed) or what
  ``--vary-by`` names.
- :class:`MattermostUser`: logs in once per account (``--accounts``), keeps the token and sends
  it as ``Authorization: Bearer``; ``call()`` merges the caller's headers over its own.
- :func:`install`: registers mmload's options, collector and verdict with Locust; importing
  this module does it.

What installing changes in Locust, and nothing else: the web UI listens on 127.0.0.1 unless
``--web-host`` says otherwise; users get 5 s to finish their request when the run stops
(``--stop-timeout``, unless given); the process exits with mmload's code (0 pass, 1 fail,
3 impaired or not run, 4 inconclusive), and ``--exit-code-on-error`` is refused.
"""

from __future__ import annotations

from mmload.harness.plugin import install
from mmload.harness.users import MattermostUser, RateLimitedUser

__all__ = ["MattermostUser", "RateLimitedUser", "install"]

install()
