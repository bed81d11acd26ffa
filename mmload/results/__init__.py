"""Records, per-second and per-key aggregates, and the run folder's writers and readers.

Pure data: never imports Locust, gevent or the server, so the verdict and the report can read a
run folder from disk in a process of their own.
"""
