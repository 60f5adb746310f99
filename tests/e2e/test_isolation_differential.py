"""Shared contexts change nothing a verdict says: the differential test of issue 16.

By default each engine and cookie profile shares one browser context whose pages
navigate from origin to origin; ``--isolate-origins`` gives every origin a fresh
context, the old way. For every lab policy with two origins per class, in each engine
on its own (so a failure names the engine), with both cookie profiles and with
``--exhaustive`` (every policy measured in full, none grouped), both ways must give
every probe the same ``outcome`` and ``cookie_sent``. The comparison is the one
``python -m harness.tools.differential`` makes, with its exit code: a probe only one
run has fails, and so do errors (no verdict) on more than 1 % of the probes.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from conftest import Artifacts

from harness.engines.paths import APT_PACKAGES, find
from harness.model.errors import EXIT_CLEAN, EXIT_FINDINGS
from harness.serve.lab import POLICIES
from harness.tools.compare import load
from harness.tools.differential import MODES, compare_runs, run_both

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENGINES = ("chromium", "firefox", "webkit")


@pytest.mark.parametrize("engine", ENGINES)
def test_shared_contexts_give_the_verdicts_of_isolated_ones(
    engine: str,
    tmp_path: Path,
    artifacts: Artifacts,
) -> None:
    executable, why = find(engine)
    if executable is None:
        pytest.skip(f"{engine}: {why} (apt-get install {' '.join(APT_PACKAGES[engine])})")
    log = io.StringIO()
    # --exhaustive: endpoints that answer alike are otherwise grouped, and a grouped
    # endpoint's probes repeat its representative's measurement instead of running
    # themselves; here every lab policy runs in full both ways.
    args = ["--browser", engine, "--per-class", "2", "--exhaustive", "--quiet"]
    runs = run_both(args, tmp_path, err=log)
    # What this check costs, shown with -s or -rP (measured, never asserted).
    print(f"{engine}: " + ", ".join(f"{r.mode} run {r.seconds:.1f} s" for r in runs))
    # Findings are expected (the lab is full of them); only a tool failure stops here.
    assert [r.mode for r in runs] == list(MODES), log.getvalue()[-3000:]
    assert all(r.code in (EXIT_CLEAN, EXIT_FINDINGS) for r in runs), log.getvalue()[-3000:]
    reports = {run.mode: load(run.folder) for run in runs}
    # The flag reached the run (else this would compare the default with itself), and
    # both cookie profiles were asked for (Chromium's permissive one is its default
    # profile, run once; the report's notes say so).
    for mode, report in reports.items():
        assert report["config"]["isolate_origins"] is (mode == "isolated")
        assert report["config"]["engines"] == [engine]
        assert report["config"]["cookie_policies"] == ["default", "permissive"]
    comparison = compare_runs(reports["default"], reports["isolated"])
    text = "\n".join(comparison.lines())
    print(comparison.lines()[0])
    code = comparison.exit_code()
    if code != EXIT_CLEAN:
        # Both reports, for reading the probes in full (copied to $CORSPROOF_ARTIFACTS).
        for run in runs:
            shutil.copy2(run.folder / "report.json", artifacts.path(f"{run.mode}-report.json"))
        artifacts.path("differential.txt").write_text(text + "\n", "utf-8")
    assert code == EXIT_CLEAN, f"{engine}:\n{text}"
    # Something real was compared: every lab policy, each probe measured as itself.
    assert set(comparison.per_engine) == {engine} and comparison.compared > 0
    assert comparison.repeated == {}
    policies = {p["target"].split("/")[3] for p in reports["isolated"]["probes"]}
    assert policies == set(POLICIES)
