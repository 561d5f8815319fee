"""Benchmarks (not timed tests): run as scripts, print figures."""
