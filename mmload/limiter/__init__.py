"""Rate limiters of the reference server: algorithms, key store, keying, faults and header dialects.

Algorithms (``gcra``, ``windows``) only decide; ``store`` only remembers; ``keying`` only names the
bucket; ``dialects`` only renders headers; ``policy`` wires them together for the HTTP layer.
"""
