"""corsproof's pytest plugin (the ``pytest11`` entry point ``corsproof``), on pytest-playwright.

Fixtures:

- ``cors``: :class:`~harness.pytest_plugin.verify.Cors`; ``cors.verify(target, allow=[...])``
  probes the target in the test's browser (pytest-playwright's ``browser_name``, with
  its ``browser_type_launch_args``, ``browser_channel`` and ``connect_options``) and
  returns a :class:`~harness.pytest_plugin.result.CorsResult` to assert on.
- ``cors_lab``: :class:`CorsLab`, corsproof's built-in lab for the session;
  ``cors_lab.url("reflect")`` is that policy's private endpoint.
- ``corsproof_harness``: the session's :class:`~harness.pytest_plugin.session.CorsproofHarness`.

Options: ``--corsproof`` (the config file's endpoints as items), ``--corsproof-config
FILE``, ``--corsproof-report DIR``; ini ``corsproof_per_class``, ``corsproof_budget``,
``corsproof_timeout``, ``corsproof_browser_source``, ``corsproof_cookie_policy``,
``corsproof_bind``. Marker
``@pytest.mark.cors(allow=[...], ...)``: defaults for the test's ``cors.verify`` calls.

Importing this module costs nothing but pytest: corsproof itself is loaded when a
fixture is first used. Without pytest-playwright the plugin registers no fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.pytest_plugin.keys import HARNESS, Slot

PLAYWRIGHT_PLUGIN = "playwright"
"""pytest-playwright's plugin name (its ``pytest11`` entry point)."""

_INI = {
    "corsproof_per_class": "cors.verify: at most N origins per attacker class (default: all)",
    "corsproof_budget": "seconds one corsproof run may take (default: 1800)",
    "corsproof_timeout": "per-probe timeout in seconds (default: 10)",
    "corsproof_browser_source": "auto, system or playwright: where browsers come from",
    "corsproof_cookie_policy": "default, permissive or both (default: both)",
    "corsproof_bind": "address corsproof's proxy listens on; a remote browser (connect_options) "
    "must reach it (default: 127.0.0.1)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """corsproof's options and ini settings."""
    group = parser.getgroup("corsproof", "corsproof: what page JavaScript could really read")
    group.addoption(
        "--corsproof",
        action="store_true",
        default=False,
        help="collect one test per endpoint and engine from the corsproof config file "
        "(corsproof.toml, or [tool.corsproof] in pyproject.toml)",
    )
    group.addoption(
        "--corsproof-config",
        metavar="FILE",
        default=None,
        help="the config file for --corsproof (default: found from the working folder up)",
    )
    group.addoption(
        "--corsproof-report",
        metavar="DIR",
        default=None,
        help="write each corsproof run's HTML and JSON report under DIR, with DIR/index.html "
        "(not under pytest-playwright's --output, which it empties at the start)",
    )
    for name, text in _INI.items():
        parser.addini(name, text, default=None)


def _report_dir(config: pytest.Config) -> Path | None:
    given = config.getoption("--corsproof-report")
    if not given:
        return None
    base = config.invocation_params.dir
    folder = (base / Path(given).expanduser()).resolve()
    output = config.getoption("--output", default=None)
    if output:
        wiped = (base / Path(output)).resolve()
        if folder == wiped or wiped in folder.parents:
            raise pytest.UsageError(
                f"--corsproof-report {given}: inside pytest-playwright's --output folder "
                f"({output}), which it deletes when a session starts; choose another folder"
            )
    return folder


def pytest_configure(config: pytest.Config) -> None:
    """The marker; the fixtures when pytest-playwright is there; the session's harness."""
    config.addinivalue_line(
        "markers",
        "cors(allow=[...], cookie=..., header=..., per_class=N, ...): defaults for the "
        "test's cors.verify calls",
    )
    if not config.pluginmanager.has_plugin(PLAYWRIGHT_PLUGIN):
        if config.getoption("--corsproof") or config.getoption("--corsproof-report"):
            raise pytest.UsageError(
                "corsproof's pytest plugin runs on pytest-playwright, which is not loaded: "
                "pip install 'corsproof[pytest]' (or drop -p no:playwright)"
            )
        return
    from harness.pytest_plugin import fixtures

    config.stash[HARNESS] = Slot(_report_dir(config))
    config.pluginmanager.register(fixtures, "corsproof-fixtures")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With ``--corsproof``, the config file's endpoint items join the collection
    (before ``-k`` and ``-m`` select among them)."""
    if not config.getoption("--corsproof") or HARNESS not in config.stash:
        return
    from harness.pytest_plugin import items as config_items

    project = config_items.load(
        config.getoption("--corsproof-config"), config.invocation_params.dir
    )
    config.stash[HARNESS].get().project = project
    items.extend(config_items.collect(session, project))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """``index.html`` and ``index.json`` of the session's runs (``--corsproof-report``)."""
    slot = session.config.stash.get(HARNESS, None)
    if slot is not None and slot.harness is not None:
        index = slot.harness.write_index()
        if index is not None:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"corsproof report: {index}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop corsproof's event loop thread."""
    slot = config.stash.get(HARNESS, None)
    if slot is not None and slot.harness is not None:
        slot.harness.close()
