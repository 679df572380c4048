"""Benchmarks: scripts that print figures and record them in bench/results.md. Not tests."""
