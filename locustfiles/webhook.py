"""webhook scenario: locust -f locustfiles/webhook.py --host URL [mmload options]."""

from mmload.harness.scenarios.webhook import Webhook

__all__ = ["Webhook"]
