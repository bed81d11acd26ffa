"""Ready scenarios.  Each module is a locustfile: ``locust -f mmload/harness/scenarios/hammer.py``
(or ``locustfiles/hammer.py`` in the repository) with mmload's options.

Which scenario acts on which option, and what each needs, is :mod:`mmload.options`'s (the one
refusal policy of ``mmload run`` and a plain Locust run); re-exported here for the scenarios.
"""

from __future__ import annotations

from pathlib import Path

from mmload.options import AUTHENTICATED, LOGIN, NAMES, USES, acts_on, missing

__all__ = ["AUTHENTICATED", "LOGIN", "NAMES", "USES", "acts_on", "locustfile", "missing"]


def locustfile(name: str) -> Path:
    return Path(__file__).with_name(f"{name}.py")
