"""Bench user for collector_overhead.py: the very same user as locust_bare.py, plus mmload's
collector (its options, request listener, flusher greenlet and run folder) and nothing else."""

from locust_bare import Hammer  # noqa: F401  Locust puts this file's folder on sys.path

from mmload.harness import plugin

plugin.install()
