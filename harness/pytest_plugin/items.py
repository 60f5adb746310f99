"""``pytest --corsproof``: the config file's endpoints as test items, one per endpoint and engine.

The config file (``corsproof.toml`` or ``[tool.corsproof]`` in pyproject.toml, found as
``corsproof verify`` finds it) is read as the CLI reads it, OpenAPI and HAR included.
Its endpoints become the parameters of one test function in a module made for the
file (:class:`ConfigModule`), so pytest-playwright's ``--browser`` matrix, fixtures
and conftest overrides apply to them as to any test. The whole file runs once per
engine; each item then passes, fails with its findings' text, or is an xfail whose
reason is the accepted risk.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from harness.config import RunConfig
from harness.model.results import Finding
from harness.pytest_plugin.result import CorsResult
from harness.pytest_plugin.verify import Cors

ITEM_NAME = "endpoint"
"""The test function of the config module: items are ``<file>::endpoint[<url>-<engine>]``."""


@dataclass(frozen=True)
class Project:
    """The config file as a verify run: its RunConfig (engines aside) and endpoints."""

    path: Path
    display: str
    config: RunConfig
    targets: tuple[str, ...]


def load(config_file: str | None, cwd: Path) -> Project:
    """The project's config as ``corsproof verify`` with no flags would run it.

    Raises :class:`pytest.UsageError` without a config file, or with a bad one.
    """
    from harness.cli import build_parser, config_from_args
    from harness.cli.project import apply_inputs
    from harness.model.errors import ConfigError

    argv = ["--config", config_file] if config_file else []
    parser = build_parser()
    try:
        ns = parser.parse_args(["verify", "--quiet", *argv])
        apply_inputs(ns, parser, ["--quiet", *argv], cwd)
        if ns.policy is None:
            raise ConfigError(
                f"no corsproof config file (corsproof.toml, or [tool.corsproof] in "
                f"pyproject.toml) in {cwd} or above; name one with --corsproof-config"
            )
        config = config_from_args(ns, os.environ)
    except ConfigError as exc:
        raise pytest.UsageError(f"--corsproof: {exc}") from None
    targets = config.targets
    if not targets:
        from harness.serve.lab import Lab

        targets = tuple(Lab().target_urls())
    path = Path(os.path.abspath(cwd / (config_file or ns.policy.source)))
    return Project(path, ns.policy.source, config, targets)


def _endpoint_id(url: str) -> str:
    return url


def _module(targets: tuple[str, ...]) -> types.ModuleType:
    """The module pytest collects for the config file: one parametrized test."""
    module = types.ModuleType("corsproof_config")

    def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
        if "corsproof_endpoint" in metafunc.fixturenames:
            metafunc.parametrize(
                "corsproof_endpoint", list(targets), ids=[_endpoint_id(t) for t in targets]
            )

    def endpoint(corsproof_endpoint: str, cors: Cors) -> None:
        """One endpoint of the config file in one engine."""
        __tracebackhide__ = True
        check_endpoint(cors, corsproof_endpoint)

    endpoint.__module__ = module.__name__
    module.pytest_generate_tests = pytest_generate_tests  # type: ignore[attr-defined]
    module.endpoint = endpoint  # type: ignore[attr-defined]
    return module


class ConfigModule(pytest.Module):
    """The config file, collected as a module of endpoint items."""

    project: Project

    def _getobj(self) -> types.ModuleType:
        return _module(self.project.targets)

    def istestfunction(self, obj: object, name: str) -> bool:
        """Only the endpoint test, whatever ``python_functions`` says."""
        return name == ITEM_NAME and callable(obj)


def collect(session: pytest.Session, project: Project) -> list[pytest.Item]:
    """The config file's items, collected under the session."""
    module = ConfigModule.from_parent(session, path=project.path)
    module.project = project
    return list(session.genitems(module))


def project_result(cors: Cors, project: Project, endpoint: str) -> CorsResult:
    """The endpoint's part of the whole file's run in this test's browser (one per engine)."""
    harness = cors.harness
    choice = cors.suite.choice(cors.adjust)

    def run() -> tuple[Any, Any, Path | None]:
        run_dir = harness.run_dir(project.display, cors.engine)
        config = replace(
            project.config,
            engines=(choice,),
            run_id=run_dir.name if run_dir is not None else "pytest",
            quiet=True,
        )
        report, redactor = cors._run(config, project.config.lab)
        return report, redactor, run_dir

    report, redactor, run_dir = harness.cached(("project", cors.suite.key()), run)
    return CorsResult(
        report,
        endpoint,
        cors.engine,
        allow=tuple(o.serialize() for o in project.config.legit_origins),
        report_dir=run_dir,
        redact=redactor.text,
    )


def _accepted(f: Finding) -> str:
    a = f.accepted
    assert a is not None
    until = f", until {a.until}" if a.until else ""
    origins = f" from {', '.join(f.origins[:3])}" if f.origins else ""
    return f"{f.rule}{origins}: {a.reason} (accepted in {a.source}{until})"


def check_endpoint(cors: Cors, endpoint: str) -> None:
    """Pass, fail with the findings at or above the file's ``fail_on``, or xfail when
    every such finding is an accepted risk (the reason is the acceptance's)."""
    __tracebackhide__ = True
    project: Project | None = getattr(cors.harness, "project", None)
    if project is None:
        pytest.fail("corsproof: --corsproof items need the config file", pytrace=False)
    result = project_result(cors, project, endpoint)
    floor = project.config.fail_on
    result.assert_no_findings(at_least=floor)
    accepted = [f for f in result.findings if f.accepted and f.severity.rank >= floor.rank]
    if accepted:
        pytest.xfail("accepted risk: " + "; ".join(_accepted(f) for f in accepted))
