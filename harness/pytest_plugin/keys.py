"""The plugin's place in ``config.stash``, in a module of its own: the hooks
(:mod:`~harness.pytest_plugin.plugin`) and the fixtures both read it, and neither
imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Slot:
    """Where the session's harness is made, the first time something needs it (so that
    a pytest run that never verifies anything never imports corsproof's machinery)."""

    report_dir: Path | None = None
    harness: Any = None

    def get(self) -> Any:
        """The session's :class:`~harness.pytest_plugin.session.CorsproofHarness`."""
        if self.harness is None:
            from harness.pytest_plugin.session import CorsproofHarness

            self.harness = CorsproofHarness(self.report_dir)
        return self.harness


HARNESS = pytest.StashKey[Slot]()
