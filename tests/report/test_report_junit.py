"""junit.xml: valid against the Jenkins JUnit schema, failures at --fail-on."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from conftest_report import ME, PUBLIC, RULES, SCHEMAS, clean_run, hostile, realistic

from harness.report import junit as report_junit

xmlschema = pytest.importorskip("xmlschema")


@pytest.fixture(scope="module")
def schema() -> Any:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


def junit(report: dict[str, Any], **kw: Any) -> str:
    buf = io.StringIO()
    report_junit.write(report, buf, **kw)
    return buf.getvalue()


def cases(text: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(text)
    return {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}


@pytest.mark.parametrize("fail_on", ["critical", "high", "medium", "low", "info"])
def test_valid_for_every_threshold(schema: Any, fail_on: str) -> None:
    text = junit(realistic(), fail_on=fail_on)
    schema.validate(text)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')


def test_one_case_per_target_and_rule() -> None:
    got = cases(junit(realistic()))
    for target in (ME, PUBLIC):
        for rule in RULES:
            assert (target, rule) in got
    assert len([k for k in got if k[0] in (ME, PUBLIC)]) == 2 * len(RULES)


def test_failures_follow_fail_on() -> None:
    high = cases(junit(realistic(), fail_on="high"))
    failing = {k for k, c in high.items() if c.find("failure") is not None}
    assert failing == {(ME, "reflected-origin-credentials")}
    # Below the threshold the finding is reported, not failed.
    low_case = high[(PUBLIC, "wildcard-credentials")]
    assert low_case.find("failure") is None
    out = low_case.find("system-out")
    assert out is not None and "[low]" in (out.text or "")

    low = cases(junit(realistic(), fail_on="low"))
    failing = {k for k, c in low.items() if c.find("failure") is not None}
    assert failing == {(ME, "reflected-origin-credentials"), (PUBLIC, "wildcard-credentials")}

    info = cases(junit(realistic(), fail_on="info"))
    assert (ME, "vary-origin-missing") in {
        k for k, c in info.items() if c.find("failure") is not None
    }
    failure = high[(ME, "reflected-origin-credentials")].find("failure")
    assert failure is not None
    assert failure.get("type") == "critical"
    assert "https://evil.example" in (failure.text or "")


def test_counts_add_up() -> None:
    root = ET.fromstring(junit(realistic(), fail_on="low"))
    suites = root.findall("testsuite")
    assert sum(int(s.get("tests", "0")) for s in suites) == int(root.get("tests", "0"))
    assert sum(int(s.get("failures", "0")) for s in suites) == int(root.get("failures", "0")) == 2
    for s in suites:
        assert int(s.get("tests", "0")) == len(s.findall("testcase"))


def test_target_without_findings_gets_a_passing_case(schema: Any) -> None:
    text = junit(clean_run())
    schema.validate(text)
    got = cases(text)
    assert list(got) == [(ME, report_junit.NO_FINDINGS)]
    assert len(got[(ME, report_junit.NO_FINDINGS)]) == 0


def test_partial_run_is_an_error(schema: Any) -> None:
    text = junit(realistic(partial=True, errors=True))
    schema.validate(text)
    got = cases(text)
    err = got[(report_junit.RUN_SUITE, "partial")].find("error")
    assert err is not None and "PARTIAL RUN" in (err.text or "")
    tool = got[(report_junit.RUN_SUITE, "tool-errors")].find("error")
    assert tool is not None and "webkit could not start" in (tool.text or "")
    root = ET.fromstring(text)
    run_suite = next(s for s in root.findall("testsuite") if s.get("name") == "corsproof")
    assert run_suite.get("errors") == str(len(run_suite.findall("testcase/error")))
    assert root.get("errors") == run_suite.get("errors")


def test_every_caveat_is_a_case_errors_counted(schema: Any) -> None:
    # The quick run the issue saw: attacker probes ending in error said errors="0".
    report = realistic()
    report["config"] = {**report.get("config", {}), "per_class": 1}
    text = junit(report)
    schema.validate(text)
    got = cases(text)
    probe_errors = got[(report_junit.RUN_SUITE, "probe-errors")].find("error")
    assert probe_errors is not None and "ended in error" in (probe_errors.get("message") or "")
    quick = got[(report_junit.RUN_SUITE, "quick-run")]
    assert quick.find("skipped") is not None and quick.find("error") is None
    root = ET.fromstring(text)
    run_suite = next(s for s in root.findall("testsuite") if s.get("name") == "corsproof")
    assert root.get("errors") == "1" and run_suite.get("skipped") == "1"
    assert sum(int(s.get("errors", "0")) for s in root.findall("testsuite")) == 1


def test_clean_run_has_no_error_cases() -> None:
    root = ET.fromstring(junit(clean_run()))
    assert root.get("errors") == "0"
    assert [s.get("name") for s in root.findall("testsuite")] == [ME]


def test_hostile_data_is_well_formed_and_valid(schema: Any) -> None:
    text = junit(hostile(), fail_on="high")
    schema.validate(text)
    root = ET.fromstring(text)
    assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in text)
    failure = next(root.iter("failure"))
    assert "<script>alert(1)</script>" in (failure.get("message") or "")
    assert "]]>" in (failure.text or "")
    assert "\\x1b[31m" in (failure.text or "")


def test_rejects_unknown_fail_on() -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        junit(realistic(), fail_on="severe")
