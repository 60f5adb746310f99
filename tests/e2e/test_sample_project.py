"""The sample project (tests/sample_project) runs `corsproof verify` with no flags.

Its pyproject.toml declares a prod and a dev environment, an OpenAPI document, a HAR
recorded from a page that calls the lab with X-CSRF-Token, readable_by and one
accepted risk. In real Chromium against the lab, prod gives the policy diff, the
accepted finding (kept, not failing the run), and a functional finding that names the
frontend's call; dev does not flag the dev origin; no cookie or token from the HAR
reaches any artifact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "sample_project"
CANARIES = ("CANARY-COOKIE-5f1d2a", "CANARY-TOKEN-9b7c4e")
DEV_ORIGIN = "http://localhost:3000"
CALL = "POST /missing-allow-headers/private with X-CSRF-Token from https://app.example.com"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("sample") / "sample_project"
    shutil.copytree(SAMPLE, where, ignore=shutil.ignore_patterns("record_har.py", "reports"))
    har = (where / "frontend.har").read_text()
    assert all(c in har for c in CANARIES), "the HAR must hold the canaries it is tested for"
    return where


def verify(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "harness", "verify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def report(cwd: Path, run: str | None = None) -> dict[str, Any]:
    runs = [cwd / "reports" / run] if run else sorted((cwd / "reports").iterdir())
    data: dict[str, Any] = json.loads((runs[0] / "report.json").read_text())
    return data


def vulnerable_origins(data: dict[str, Any]) -> set[str]:
    return {o for f in data["findings"] if f["category"] == "vulnerability" for o in f["origins"]}


@pytest.fixture(scope="module")
def prod(project: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = verify(project)  # no flags: the config says everything
    return done, report(project)


@needs_chromium
def test_prod_gives_the_policy_diff_and_the_accepted_finding(prod: Any) -> None:
    done, data = prod
    # localhost-trusted is real and not accepted: the run fails on it, not on the other.
    assert done.returncode == 1, done.stderr
    assert data["config"]["config_file"] == "pyproject.toml"
    policy = data["policy"]
    assert policy["env"] == "prod" and [e["name"] for e in policy["environments"]] == [
        "prod",
        "dev",
    ]
    rows = {r["target"].split(".com", 1)[1]: r for r in policy["observed"]}
    assert rows["/allowlist/private"]["beyond"] == [] and rows["/allowlist/private"]["short"] == []
    assert {b["origin"] for b in rows["/reflect/private"]["beyond"]} >= {"null"}
    accepted = [f for f in data["findings"] if f["accepted"]]
    assert [(f["rule"], f["target"].rsplit("/", 2)[-2]) for f in accepted] == [
        ("any-origin-read", "reflect")
    ]
    assert accepted[0]["accepted"]["until"] == "2099-12-31"
    assert accepted[0]["severity"] == "critical"  # kept as measured, only not failing
    failing = [f for f in data["findings"] if f["severity"] in ("critical", "high")]
    assert {f["rule"] for f in failing if not f["accepted"]} == {"localhost-trusted"}
    assert DEV_ORIGIN in vulnerable_origins(data)  # prod trusts the dev frontend: flagged
    assert "[accepted until 2099-12-31" in done.stdout


@needs_chromium
def test_prod_names_the_frontend_call_that_breaks(prod: Any) -> None:
    _done, data = prod
    (blocked,) = [f for f in data["findings"] if f["rule"] == "legit-origin-blocked"]
    assert CALL in blocked["detail"]
    assert "'x-csrf-token' is not in Access-Control-Allow-Headers" in blocked["detail"]


@needs_chromium
def test_dev_does_not_flag_the_dev_origins(project: Path, prod: Any) -> None:
    done = verify(project, "--env", "dev", "--run-id", "dev")
    data = report(project, "dev")
    assert data["policy"]["env"] == "dev"
    assert DEV_ORIGIN in data["config"]["legit_origins"]
    assert DEV_ORIGIN not in vulnerable_origins(data)
    for row in data["policy"]["observed"]:
        assert DEV_ORIGIN not in {b["origin"] for b in row["beyond"]}
    # What is left at or above high is the accepted risk alone, so the run passes.
    assert done.returncode == 0, done.stderr


@needs_chromium
def test_no_cookie_or_token_from_the_har_reaches_any_artifact(project: Path, prod: Any) -> None:
    done, _data = prod
    seen = [done.stdout, done.stderr]
    for path in (project / "reports").rglob("*"):
        if path.is_file():
            seen.append(path.read_bytes().decode("utf-8", "replace"))
    for canary in CANARIES:
        assert not any(canary in text for text in seen), canary


@needs_chromium
def test_the_html_draws_the_declared_policy_beside_the_observed(project: Path, prod: Any) -> None:
    (run,) = [p for p in (project / "reports").iterdir() if p.name != "dev"][:1]
    html = (run / "report.html").read_text()
    assert 'data-testid="declared-policy"' in html and 'data-testid="policy-diff"' in html
    assert 'data-testid="accepted-risks"' in html and 'data-testid="accepted"' in html
    assert "SEC-101: legacy feed" in html
