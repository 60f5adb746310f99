"""The nightly workflow: a browser matrix, one merged report, SARIF to code scanning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "nightly.yml"


def load() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_triggers_nightly_and_on_demand() -> None:
    data = load()
    triggers = data[True] if True in data else data["on"]  # YAML 1.1 reads `on` as True
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers


def test_matrix_runs_every_engine_and_uploads_results() -> None:
    job = load()["jobs"]["matrix"]
    assert job["strategy"]["matrix"]["engine"] == ["chromium", "firefox", "webkit"]
    assert job["strategy"]["fail-fast"] is False
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "apt-get install" in runs and "webkit2gtk-driver" in runs
    assert 'nox -s "matrix(engine=' in runs
    assert any("upload-artifact" in step.get("uses", "") for step in job["steps"])


def test_report_job_merges_uploads_sarif_and_fails_on_findings() -> None:
    job = load()["jobs"]["report"]
    assert job["needs"] == "matrix"
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    assert any("nox -s merge" in step.get("run", "") for step in steps)
    sarif = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert sarif["with"]["sarif_file"].endswith("report.sarif")
    assert any(
        "upload-artifact" in s.get("uses", "") and "nightly" in s["with"]["path"] for s in steps
    )
    assert steps[-1]["if"] == "steps.merge.outputs.code != '0'"


def test_target_comes_from_a_variable_or_secret() -> None:
    target = load()["env"]["CORSPROOF_TARGET"]
    assert "vars.CORSPROOF_TARGET" in target and "secrets.CORSPROOF_TARGET" in target
