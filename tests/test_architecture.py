"""The layers of ARCHITECTURE.md hold: imports point down and no sibling modules cycle.

The contract is ``[tool.importlinter]`` in pyproject.toml; ``nox -s lint`` runs the
same check with ``lint-imports``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_layer_contract_and_no_cycles_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = lint_imports(no_cache=True)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Layers: imports point down KEPT" in out
    assert "No import cycles between sibling modules KEPT" in out
