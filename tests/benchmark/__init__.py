"""Soak benchmark: a simulated day of the integration against the simulator (see BENCHMARKS.md)."""
