"""hammer scenario: locust -f locustfiles/hammer.py --host URL [mmload options]."""

from mmload.scenarios.hammer import Hammer

__all__ = ["Hammer"]
