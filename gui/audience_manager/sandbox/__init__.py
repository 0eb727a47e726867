"""Simulated platforms with the real paths, bodies, status codes and limits: the demo workspace and the tests."""
