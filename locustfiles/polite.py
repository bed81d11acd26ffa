"""polite scenario: locust -f locustfiles/polite.py --host URL [mmload options]."""

from mmload.harness.scenarios.polite import Polite

__all__ = ["Polite"]
