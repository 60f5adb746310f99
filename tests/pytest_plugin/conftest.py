"""The plugin's tests run pytest inside pytest (``pytester``), loaded here if ``-p pytester``
was not given, so that ``nox -s tests`` runs them as they are."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
