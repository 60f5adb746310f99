"""Scripting: --json on stdout, the terminal's findings list, baseline changes in every view."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_chromium, only_classes
from conftest_report import ME, XSS, clean_run, hostile, realistic

from harness.cli import main
from harness.cli.terminal import MAX_LISTED, json_summary, print_summary
from harness.report import markdown as report_md
from harness.report.html_page import render


def with_drift(report: dict[str, Any]) -> dict[str, Any]:
    rules = [f["rule"] for f in report["findings"]]
    base = report["findings"][
        rules.index("reflected-origin-credentials")
        if "reflected-origin-credentials" in rules
        else 0
    ]
    report["baseline"] = {
        "baseline_run": "nightly-41",
        "browsers": {
            "baseline": {"chromium": "130.0", "firefox": "128.0"},
            "current": {"chromium": "131.0", "firefox": "128.0"},
        },
        "changes": [
            {
                "target": ME,
                "origin": "https://evil.example",
                "engine": "chromium",
                "cookie_policy": "default",
                "shape": "simple-get",
                "credentials": "include",
                "api": "fetch",
                "before": "blocked",
                "after": "readable",
            }
        ],
        "new_findings": [base],
        "resolved_findings": [{**base, "rule": "null-origin-read", "target": f"{ME}/old"}],
    }
    return report


def test_summary_md_shows_baseline_changes() -> None:
    md = report_md.render(with_drift(realistic()))
    section = md[md.index("### Since baseline nightly-41") :]
    assert "**1** new finding(s), **1** resolved, **1** probe outcome(s) changed." in section
    upgraded = next(line for line in section.splitlines() if line.startswith("Engine versions"))
    # md_escape guards "130." against reading as a numbered list: "130\.0" renders as 130.0.
    assert upgraded.replace("\\.", ".") == "Engine versions changed: Chromium 130.0 \u2192 131.0."
    assert "| New | Rule | Target |" in section and "reflected-origin-credentials" in section
    assert "| Resolved | Rule | Target |" in section and "null-origin-read" in section


def test_html_shows_new_and_resolved_findings() -> None:
    page = render(with_drift(realistic()))
    assert 'data-testid="baseline-summary"' in page
    assert "1 new finding(s), 1 resolved, 1 probe outcome(s) changed" in page
    assert 'data-testid="baseline-new"' in page and 'data-testid="baseline-resolved"' in page
    assert "null-origin-read" in page and "Chromium 130.0 &rarr; 131.0" in page
    # On the first screen too, before the first finding.
    assert page.index("Since baseline run") < page.index('id="finding-1"')


def test_a_baseline_without_changes_still_says_so() -> None:
    report = clean_run()
    report["baseline"] = {
        "baseline_run": "b",
        "changes": [],
        "new_findings": [],
        "resolved_findings": [],
    }
    assert "0 new finding(s), 0 resolved, 0 probe outcome(s) changed" in render(report)
    assert "**0** new finding(s)" in report_md.render(report)


def test_hostile_baseline_is_escaped() -> None:
    report = with_drift(hostile())
    report["baseline"]["baseline_run"] = XSS
    assert "<script" not in render(report).lower()
    assert "<script" not in report_md.render(report).lower()


def many_findings(n: int) -> dict[str, Any]:
    report = realistic()
    first = report["findings"][0]
    report["findings"] = [{**copy.deepcopy(first), "target": f"{ME}/{i:02d}"} for i in range(n)]
    return report


def test_terminal_says_how_many_findings_it_left_out() -> None:
    out = io.StringIO()
    print_summary(many_findings(MAX_LISTED + 7), [], out)
    lines = out.getvalue().splitlines()
    listed = [ln for ln in lines if ln.startswith("  [")]
    assert len(listed) == MAX_LISTED
    assert "  ... and 7 more finding(s) in the report" in lines
    out = io.StringIO()
    print_summary(many_findings(MAX_LISTED), [], out)
    assert "more finding(s)" not in out.getvalue()


def test_json_summary_shape() -> None:
    obj = json_summary("verify", with_drift(realistic()), 1, paths=[Path("r/x/report.html")])
    assert obj["exit_code"] == 1 and obj["command"] == "verify"
    assert obj["verdict"]["level"] == "exploitable"
    assert obj["findings"]["total"] == len(realistic()["findings"])
    assert obj["findings"]["items"][0]["rule"] == "reflected-origin-credentials"
    assert obj["probes"]["measured"] == len(realistic()["probes"])
    assert obj["baseline"]["new_findings"][0]["rule"] == "reflected-origin-credentials"
    assert obj["reports"] == {"html": "r/x/report.html"}
    json.dumps(obj)  # JSON-ready


def test_json_for_bad_input_is_one_object() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["verify", "--json", "--target", "ftp://x"], out=out, err=err) == 2
    obj = json.loads(out.getvalue())
    assert obj["exit_code"] == 2 and "--target" in obj["errors"][0]
    assert err.getvalue().startswith("corsproof: error:")


def test_merge_json(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(json.dumps(clean_run()))
    out, err = io.StringIO(), io.StringIO()
    code = main(["merge", str(run), "--out", str(tmp_path), "--json"], out=out, err=err)
    assert code == 0
    (line,) = out.getvalue().splitlines()
    obj = json.loads(line)
    assert obj["command"] == "merge" and obj["exit_code"] == 0
    assert Path(obj["reports"]["json"]).exists()
    assert "verdict: No exploitable CORS issue found" in err.getvalue()


@pytest.mark.browser
@needs_chromium
def test_verify_json_keeps_stdout_machine_readable(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(realistic()))
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "verify",
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--per-class",
            "1",
            *only_classes(),
            "--out",
            str(tmp_path),
            "--run-id",
            "j",
            "--format",
            "json,md,html",
            "--baseline",
            str(baseline),
            "--json",
        ],
        out=out,
        err=err,
    )
    (line,) = out.getvalue().splitlines()  # exactly one line, and it is JSON
    obj = json.loads(line)
    assert obj["exit_code"] == code == 1
    assert obj["verdict"]["level"] == "exploitable"
    assert obj["findings"]["total"] == len(obj["findings"]["items"]) > 0
    assert obj["probes"]["planned"] == obj["probes"]["measured"]
    assert {c["kind"] for c in obj["caveats"]} >= {"quick-run", "disabled-classes"}
    assert set(obj["reports"]) == {"json", "md", "html"}
    assert obj["baseline"]["run_id"] == "realistic" or obj["baseline"]["run_id"]
    # Progress and the human summary went to stderr.
    text = err.getvalue()
    assert "probes [chromium/default]" in text and "verdict: Exploitable" in text
    run = tmp_path / "j"
    assert "### Since baseline" in (run / "summary.md").read_text()
    assert 'data-testid="baseline-summary"' in (run / "report.html").read_text()
