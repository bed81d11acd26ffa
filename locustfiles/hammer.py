"""hammer scenario: locust -f locustfiles/hammer.py --host URL [mmload options]."""

from mmload.harness.scenarios.hammer import Hammer

__all__ = ["Hammer"]
