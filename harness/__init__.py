"""corsproof: a CORS verifier that asks real browsers what page JavaScript can read."""

from __future__ import annotations

__version__ = "0.1.0"
