"""bypass scenario: locust -f locustfiles/bypass.py --host URL --accounts FILE [mmload options]."""

from mmload.harness.scenarios.bypass import Bypass

__all__ = ["Bypass"]
