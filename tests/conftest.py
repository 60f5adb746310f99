"""Shared fixtures: real lab runs in real browsers, made once per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.cli import build_parser, config_from_args
from harness.engines.paths import find as find_system
from harness.model.results import RunReport
from harness.pipeline import run_sync
from harness.serve.lab import Lab, LabRequest

# The plugin's tests (tests/pytest_plugin) run pytest inside pytest. Loaded here, in the
# one top-level conftest, so `nox -s tests` runs them as they are (a conftest.py of
# their own would shadow this module, which the other tests import as `conftest`).
pytest_plugins = ("pytester",)

# The system builds the browser tests drive (harness.engines.paths holds the paths).
HAVE_CHROMIUM = find_system("chromium")[0] is not None
HAVE_FIREFOX = find_system("firefox")[0] is not None
HAVE_WEBKIT = find_system("webkit")[0] is not None

needs_chromium = pytest.mark.skipif(not HAVE_CHROMIUM, reason="chromium is not installed")
needs_firefox = pytest.mark.skipif(not HAVE_FIREFOX, reason="firefox-esr is not installed")


@dataclass
class LabRun:
    """One verify run against the built-in lab, with the lab's own request log."""

    report: RunReport
    data: dict[str, Any]
    log: list[LabRequest]
    lab: Lab
    out: Path

    def probes(self, **match: Any) -> list[dict[str, Any]]:
        """Probes whose fields equal every given value (policy=... matches the target path)."""
        policy = match.pop("policy", None)
        found = []
        for p in self.data["probes"]:
            if policy is not None and f"/{policy}/" not in p["target"]:
                continue
            if all(p.get(k) == v for k, v in match.items()):
                found.append(p)
        return found

    def findings(self, policy: str) -> set[str]:
        """Rule ids that fired on one lab policy."""
        return {f["rule"] for f in self.data["findings"] if f"/{policy}/" in f["target"]}


def lab_run(out: Path, *extra: str) -> LabRun:
    """Run verify against a fresh lab in-process, keeping the lab for its log."""
    lab = Lab()
    ns = build_parser().parse_args(
        ["verify", "--out", str(out), "--run-id", "lab", "--format", "json", "--quiet", *extra]
    )
    config = config_from_args(ns)
    report = run_sync(config, lab=lab)
    return LabRun(report, report.to_dict(), lab.log(), lab, out)


@pytest.fixture(scope="session")
def lab_both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    """The lab in Chromium and Firefox, both cookie profiles, two origins per class."""
    if not (HAVE_CHROMIUM and HAVE_FIREFOX):
        pytest.skip("needs chromium and firefox-esr")
    out = tmp_path_factory.mktemp("lab-both")
    yield lab_run(out, "--browser", "chromium,firefox", "--per-class", "2")


def assert_witnesses_agree(run: LabRun) -> None:
    """The wire and the lab's own log, two independent witnesses, agree on every cookie.

    Every credentialed probe whose request reached the lab was compared; the lab's log
    knows nothing of the proxy, so a disagreement means one of them is wrong. A probe
    that repeats an equivalent endpoint's measurement sent nothing of its own.
    """
    check = run.data["witness"]["lab_log"]
    reached = [
        p
        for p in run.data["probes"]
        if p["credentials"] == "include"
        and p["wire_status"] is not None
        and not p.get("equivalent_to")
    ]
    assert reached and check["compared"] == len(reached)
    assert check["disagreements"] == []
    # Both answers occur, so agreement is not agreement on one value.
    assert {p["cookie_sent"] for p in reached} == {True, False}


def only_classes(*keep: str) -> list[str]:
    """``--disable-class`` arguments for every attacker class except ``keep``.

    Tests about one mechanism (routing, session setup, drift) need a handful of
    origins, not the whole catalogue; the unrelated attacker stays unless dropped.
    """
    from scenarios.catalogue import CLASSES

    keep_all = {"legitimate", "custom", "unrelated", *keep}
    args: list[str] = []
    for name in CLASSES:
        if name not in keep_all:
            args += ["--disable-class", name]
    return args


# --------------------------------------------------------------------------- artifacts


@dataclass
class Artifacts:
    """Files a test keeps only when it fails (screenshots): listed in the failure output."""

    directory: Path
    paths: list[Path] = field(default_factory=list)

    def path(self, name: str) -> Path:
        """Where to write artifact ``name``; it is reported if the test fails."""
        self.directory.mkdir(parents=True, exist_ok=True)
        p = self.directory / name
        self.paths.append(p)
        return p


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach a failed test's artifacts to its report (and copy them to $CORSPROOF_ARTIFACTS)."""
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{rep.when}", rep)
    found: Artifacts | None = getattr(item, "_artifacts", None)
    if rep.failed and found is not None and found.paths:
        kept = [p for p in found.paths if p.exists()]
        where = os.environ.get("CORSPROOF_ARTIFACTS")
        if where:
            dest = Path(where) / item.name
            dest.mkdir(parents=True, exist_ok=True)
            kept += [Path(shutil.copy2(p, dest / p.name)) for p in list(kept)]
        rep.sections.append(("artifacts", "\n".join(str(p) for p in kept)))


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Artifacts]:
    """Screenshots and such, kept (and listed in the output) only when the test fails."""
    found = Artifacts(tmp_path / "artifacts")
    request.node._artifacts = found
    yield found
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.passed:
        shutil.rmtree(found.directory, ignore_errors=True)
