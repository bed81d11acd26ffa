"""Rate limiters of the reference server: the rate type, algorithms, key stores, keying and faults.

Algorithms (``gcra``, ``windows``) only decide; ``store`` and ``window_store`` only remember (at
most ``memory_store_size`` keys); ``keying`` only names the bucket.  Header dialects live in
:mod:`mmload.dialects`; :mod:`mmload.server.limiting` wires it all together for the HTTP layer.
"""
