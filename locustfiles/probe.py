"""probe scenario: locust -f locustfiles/probe.py --host URL [mmload options]."""

from mmload.harness.scenarios.probe import Probe

__all__ = ["Probe"]
