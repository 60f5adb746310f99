"""Measurements: the benchmark and the soak."""
