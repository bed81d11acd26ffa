"""Ready scenarios.  Each module is a locustfile: ``locust -f mmload/scenarios/hammer.py``
(or ``locustfiles/hammer.py`` in the repository) with mmload's options."""

from pathlib import Path

NAMES = ("hammer", "steady", "ramp", "mixed", "polite", "webhook")


def locustfile(name: str) -> Path:
    return Path(__file__).with_name(f"{name}.py")
