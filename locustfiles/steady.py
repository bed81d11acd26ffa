"""steady scenario: locust -f locustfiles/steady.py --host URL [mmload options]."""

from mmload.harness.scenarios.steady import Steady

__all__ = ["Steady"]
