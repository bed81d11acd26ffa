"""mixed scenario: locust -f locustfiles/mixed.py --host URL [mmload options]."""

from mmload.harness.scenarios.mixed import Mixed

__all__ = ["Mixed"]
