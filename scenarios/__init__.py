"""Scenarios: the attacker-origin catalogue, request shapes and the probe plan.

Pure data and pure functions over :mod:`harness.model.results`; nothing here drives a
browser or touches the network.
"""

from __future__ import annotations
