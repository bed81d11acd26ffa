"""ramp scenario: locust -f locustfiles/ramp.py --host URL [mmload options]."""

from mmload.harness.scenarios.ramp import Ramp

__all__ = ["Ramp"]
