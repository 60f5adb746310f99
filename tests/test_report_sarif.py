"""report.sarif: valid SARIF 2.1.0 with rules, results and stable fingerprints."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from conftest_report import EVIL, ME, RULES, SCHEMAS, clean_run, hostile, realistic

from harness import report_sarif

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads((SCHEMAS / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def sarif(report: dict[str, Any]) -> dict[str, Any]:
    buf = io.StringIO()
    report_sarif.write(report, buf)
    data: dict[str, Any] = json.loads(buf.getvalue())
    return data


@pytest.mark.parametrize(
    "build", [realistic, clean_run, hostile, lambda: realistic(partial=True, errors=True)]
)
def test_validates_against_official_schema(validator: Any, build: Any) -> None:
    log = sarif(build())
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, errors[0]
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_rules_and_results() -> None:
    run = sarif(realistic())["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "corsproof"
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    by_id = {r["id"]: r for r in rules}
    crit = by_id["reflected-origin-credentials"]
    assert crit["properties"]["security-severity"] == "9.5"
    assert crit["defaultConfiguration"]["level"] == "error"
    assert crit["name"] == "AnyOriginIsReflectedWithCredentials"
    assert "CORSMiddleware" in crit["help"]["markdown"]
    assert "Remediation" in crit["help"]["text"]
    assert by_id["vary-origin-missing"]["properties"]["security-severity"] == "0.0"
    assert by_id["legit-origin-blocked"]["defaultConfiguration"]["level"] == "warning"

    results = run["results"]
    assert [r["ruleId"] for r in results] == [
        "reflected-origin-credentials",
        "wildcard-credentials",
        "vary-origin-missing",
    ]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert r["partialFingerprints"][report_sarif.FINGERPRINT_KEY]
    first = results[0]
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ME
    assert EVIL in first["message"]["text"] and "Chromium" in first["message"]["text"]
    assert [r["level"] for r in results] == ["error", "note", "note"]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert run["invocations"][0]["startTimeUtc"] == "2025-01-01T12:00:00Z"


def test_fingerprints_are_stable_and_distinct() -> None:
    a = sarif(realistic())["runs"][0]["results"]
    b = sarif(realistic(partial=True))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in a] == [r["partialFingerprints"] for r in b]
    assert len({json.dumps(r["partialFingerprints"]) for r in a}) == len(a)
    f = {"rule": "r", "target": "t", "origins": ["b", "a"]}
    assert report_sarif.fingerprint(f) == report_sarif.fingerprint({**f, "origins": ["a", "b"]})
    assert report_sarif.fingerprint(f) != report_sarif.fingerprint({**f, "origins": ["a"]})


def test_partial_run_is_not_successful() -> None:
    inv = sarif(realistic(partial=True, errors=True))["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in inv["toolExecutionNotifications"]]
    assert texts[0].startswith("PARTIAL RUN")
    assert any("webkit could not start" in t for t in texts)


def test_hostile_uri_is_percent_encoded() -> None:
    run = sarif(hostile())["runs"][0]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("https://h.example/")
    assert not any(c in uri for c in ' <>"\x00\x1b')
    assert uri.isascii()
    # A rule missing from nothing still resolves; the hostile rule id is kept as text.
    assert run["tool"]["driver"]["rules"][0]["id"] == "rule<script>alert(1)</script>"
