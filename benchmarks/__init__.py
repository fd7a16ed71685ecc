"""Benchmarks: scripts that measure Setpoint, run by `make bench` (not by pytest)."""
