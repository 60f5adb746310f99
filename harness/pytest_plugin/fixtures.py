"""corsproof's fixtures, registered by :mod:`harness.pytest_plugin.plugin` only when
pytest-playwright is loaded (their ``cors`` fixture stands on its browser fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from harness.pytest_plugin.keys import HARNESS


@dataclass(frozen=True)
class CorsLab:
    """The ``cors_lab`` fixture: corsproof's built-in lab, served in each lab run.

    Its endpoints are on ``https://api.example.com`` (``origin``), one CORS policy per
    path prefix; ``frontend`` is its legitimate frontend, ``https://app.example.com``.
    """

    lab: Any
    """The :class:`harness.serve.lab.Lab`: its request log, secrets and ``set_policy``."""

    origin: str = "https://api.example.com"
    frontend: str = "https://app.example.com"

    @property
    def policies(self) -> tuple[str, ...]:
        """The lab's policy names, e.g. ``allowlist``, ``reflect``, ``suffix``."""
        from harness.serve.lab import POLICIES

        return tuple(POLICIES)

    def url(self, policy: str) -> str:
        """The endpoint of ``policy`` that guards the victim's data (``/{policy}/private``;
        for ``wildcard``, which serves public data, ``/wildcard/public``)."""
        for url in self.lab.target_urls(self.origin):
            if url.startswith(f"{self.origin}/{policy}/"):
                return str(url)
        raise KeyError(f"unknown lab policy {policy!r} (one of {', '.join(self.policies)})")


def _settings(config: pytest.Config) -> Any:
    from harness.pytest_plugin.verify import Settings

    def ini(name: str) -> str | None:
        value = config.getini(name)
        return str(value).strip() if value not in (None, "") else None

    try:
        per_class = ini("corsproof_per_class")
        return Settings(
            per_class=int(per_class) if per_class else None,
            budget=float(ini("corsproof_budget") or 1800.0),
            timeout=float(ini("corsproof_timeout") or 10.0),
            browser_source=ini("corsproof_browser_source") or "auto",
            cookie_policy=ini("corsproof_cookie_policy") or "both",
            bind=ini("corsproof_bind") or "127.0.0.1",
        )
    except ValueError as exc:
        raise pytest.UsageError(f"corsproof ini setting: {exc}") from None


@pytest.fixture(scope="session")
def corsproof_harness(pytestconfig: pytest.Config) -> Any:
    """The session's corsproof: its event loop, the lab, every run and the report."""
    return pytestconfig.stash[HARNESS].get()


@pytest.fixture(scope="session")
def cors_lab(corsproof_harness: Any) -> CorsLab:
    """corsproof's built-in lab, one per session: ``cors_lab.url("reflect")``."""
    return CorsLab(corsproof_harness.lab)


@pytest.fixture
def cors(
    request: pytest.FixtureRequest,
    corsproof_harness: Any,
    browser_name: str,
    browser_type_launch_args: dict[str, Any],
    connect_options: dict[str, Any] | None,
    browser_channel: str | None,
) -> Iterator[Any]:
    """``cors.verify(target, allow=[...])`` in this test's browser (``browser_name``)."""
    from harness.pytest_plugin.verify import Cors, Suite, marker_defaults

    launch = dict(browser_type_launch_args or {})
    if browser_channel and "channel" not in launch:
        launch["channel"] = browser_channel
    suite = Suite(browser_name, launch, dict(connect_options) if connect_options else None)
    yield Cors(
        corsproof_harness,
        suite,
        _settings(request.config),
        label=request.node.nodeid,
        defaults=marker_defaults(request.node.iter_markers("cors")),
    )
