"""Judging: what the observations mean. Pure functions over harness.model."""
