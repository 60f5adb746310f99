"""The declared policy in every report: the accepted finding marked (and not failing
JUnit, suppressed in SARIF), the policy diff drawn in HTML, hostile values escaped."""

from __future__ import annotations

import copy
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest_report import EVIL, ME, SCHEMAS, realistic

from harness.report import html_page, junit, markdown, sarif

HOSTILE = "<script>alert(1)</script>"


def with_policy() -> dict[str, Any]:
    report = copy.deepcopy(realistic())
    f = next(f for f in report["findings"] if f["category"] == "vulnerability")
    f["accepted"] = {
        "reason": f"SEC-12 {HOSTILE}",
        "until": "2027-06-30",
        "source": "pyproject.toml",
    }
    report["policy"] = {
        "source": "pyproject.toml",
        "env": "prod",
        "environments": [{"name": "prod", "origins": ["https://app.example.test"]}],
        "expectations": [
            {
                "pattern": "/v1/*",
                "readable_by": ["https://app.example.test"],
                "public": False,
                "accept": [
                    {
                        "rule": f["rule"],
                        "origin": EVIL,
                        "reason": f"SEC-12 {HOSTILE}",
                        "until": "2027-06-30",
                    }
                ],
            }
        ],
        "observed": [
            {
                "target": ME,
                "readable_by": ["https://app.example.test"],
                "public": False,
                "readers_with_session": {EVIL: ["chromium/default"]},
                "readers_without_session": {},
                "beyond": [{"origin": EVIL, "with_session": True, "findings": [f["rule"]]}],
                "short": [],
                "unknown": [{"origin": HOSTILE, "reason": "not probed in this run"}],
            }
        ],
    }
    return report


def test_html_draws_the_policy_and_the_accepted_finding_escaped() -> None:
    html = html_page.render(with_policy())
    assert 'data-testid="policy-diff"' in html and 'data-testid="accepted"' in html
    assert "until 2027-06-30" in html and "does not fail the run" in html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-testid="declared-policy"' not in html_page.render(realistic())


def test_junit_does_not_fail_on_an_accepted_finding() -> None:
    report = with_policy()
    accepted = next(f for f in report["findings"] if f.get("accepted"))
    buf = io.StringIO()
    junit.write(report, buf, fail_on="low")
    root = ET.fromstring(buf.getvalue())
    case = next(
        c
        for c in root.iter("testcase")
        if c.get("classname") == accepted["target"] and c.get("name") == accepted["rule"]
    )
    others = [
        f
        for f in report["findings"]
        if f["target"] == accepted["target"]
        and f["rule"] == accepted["rule"]
        and not f.get("accepted")
    ]
    if not others:
        assert case.find("failure") is None
    assert "accepted until 2027-06-30" in (case.findtext("system-out") or "")


@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def test_sarif_suppresses_the_accepted_finding(validator: Any) -> None:
    buf = io.StringIO()
    sarif.write(with_policy(), buf)
    log = json.loads(buf.getvalue())
    assert not list(validator.iter_errors(log))
    suppressed = [r for r in log["runs"][0]["results"] if r.get("suppressions")]
    assert len(suppressed) == 1
    (s,) = suppressed[0]["suppressions"]
    assert s["kind"] == "external" and s["status"] == "accepted"
    assert s["justification"].startswith("SEC-12") and "(until 2027-06-30)" in s["justification"]


def test_markdown_marks_the_accepted_finding() -> None:
    text = markdown.render(with_policy())
    assert "_(accepted until 2027-06-30: SEC-12" in text
    assert "<script>" not in text
