"""The parent process of a run: it starts the reference server (``embedded``) and Locust
(``run``), waits for them, and leaves the run folder behind.  Nothing here runs inside Locust:
that is :mod:`mmload.harness`."""
