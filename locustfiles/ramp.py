"""ramp scenario: locust -f locustfiles/ramp.py --host URL [mmload options]."""

from mmload.scenarios.ramp import Ramp

__all__ = ["Ramp"]
