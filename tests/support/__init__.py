"""Helpers the tests and benches share: the synthesizer and its worlds, fake and real servers,
raw HTTP, nginx, runs of mmload."""
