"""report.sarif: valid SARIF 2.1.0 with rules, results and stable fingerprints."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import github_sarif
import pytest
from conftest import LabRun
from conftest_report import EVIL, ME, PUBLIC, RULES, SCHEMAS, clean_run, hostile, realistic

from harness.report import sarif as report_sarif
from harness.report.writers import write_reports

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
    where = first["locations"][0]["physicalLocation"]
    assert where["artifactLocation"] == {
        "uri": ".corsproof/api.example.test/v1/me.cors",
        "uriBaseId": "%SRCROOT%",
    }
    assert where["region"]["startLine"] == 4
    # The URL goes in the message and the properties, not the location.
    assert f"Target: {ME}." in first["message"]["text"] and first["properties"]["target"] == ME
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
    # One finding per rule and target: a quick run that tried fewer origins (or a
    # catalogue that grew) must not reopen the alert as a new one.
    assert report_sarif.fingerprint(f) == report_sarif.fingerprint({**f, "origins": ["a"]})
    assert report_sarif.fingerprint(f) != report_sarif.fingerprint({**f, "target": "u"})
    assert report_sarif.fingerprint(f) != report_sarif.fingerprint({**f, "rule": "s"})


def test_partial_run_is_not_successful() -> None:
    inv = sarif(realistic(partial=True, errors=True))["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in inv["toolExecutionNotifications"]]
    assert texts[0].startswith("PARTIAL RUN")
    assert any("webkit could not start" in t for t in texts)


def test_hostile_target_gets_a_safe_placeholder() -> None:
    report = hostile()
    run = sarif(report)["runs"][0]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith(".corsproof/h.example/") and uri.endswith(".cors")
    assert all(c.isalnum() or c in "._-/" for c in uri)
    # A rule missing from nothing still resolves; the hostile rule id is kept as text.
    assert run["tool"]["driver"]["rules"][0]["id"] == "rule<script>alert(1)</script>"
    assert github_sarif.problems(sarif(report)) == []


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("https://api.example.org/v1/me", ".corsproof/api.example.org/v1/me.cors"),
        ("https://api.example.org/", ".corsproof/api.example.org/index.cors"),
        ("https://api.example.org", ".corsproof/api.example.org/index.cors"),
        ("http://api.example.org:8080/a/b/", ".corsproof/api.example.org_8080/a/b.cors"),
        ("https://api.example.org:443/x", ".corsproof/api.example.org/x.cors"),
        ("https://[::1]:8443/x y/../z", ".corsproof/__1_8443/x_y/_/z.cors"),
    ],
)
def test_placeholder_paths(target: str, path: str) -> None:
    assert report_sarif.placeholder_path(target) == path


def test_a_query_gets_its_own_placeholder() -> None:
    a = report_sarif.placeholder_path("https://h.example/p?id=1")
    b = report_sarif.placeholder_path("https://h.example/p?id=2")
    assert a != b and a.startswith(".corsproof/h.example/p_q")


def test_placeholders_are_written_and_name_the_target(tmp_path: Path) -> None:
    report = realistic()
    write_reports(report, tmp_path, ["sarif"])
    log = json.loads((tmp_path / "report.sarif").read_text())
    for result in log["runs"][0]["results"]:
        where = result["locations"][0]["physicalLocation"]
        lines = (tmp_path / where["artifactLocation"]["uri"]).read_text().splitlines()
        line = lines[where["region"]["startLine"] - 1]
        assert line == f"target: {result['properties']['target']}"
        assert where["region"]["endColumn"] == len(line) + 1
    assert sorted(p.name for p in (tmp_path / ".corsproof").rglob("*.cors")) == [
        "me.cors",
        "public.cors",
    ]


def test_sarif_location_points_every_result_at_the_given_file(tmp_path: Path) -> None:
    report = realistic()
    report["config"] = {**report["config"], "sarif_location": "app/cors.py"}
    log = sarif(report)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"app/cors.py"}
    assert report_sarif.extra_files(report) == {}
    write_reports(report, tmp_path, ["sarif"])
    assert not (tmp_path / ".corsproof").exists()
    assert github_sarif.problems(log) == []


def test_category_per_matrix_job_and_stable_across_runs() -> None:
    report = realistic()
    auto = sarif(report)["runs"][0]["automationDetails"]["id"]
    assert auto == f"corsproof/chromium-firefox/{report['run_id']}"
    later = {**realistic(), "run_id": "20250102T031700Z"}
    later_id = sarif(later)["runs"][0]["automationDetails"]["id"]
    assert github_sarif.category(sarif(later)["runs"][0]) == "corsproof/chromium-firefox/"
    assert later_id.rsplit("/", 1)[0] == auto.rsplit("/", 1)[0]
    report["config"] = {"engines": ["chromium", "firefox", "webkit"], "shard": "2/4"}
    assert sarif(report)["runs"][0]["automationDetails"]["id"].startswith("corsproof/shard-2-of-4/")
    report["config"]["sarif_category"] = "/cors/staging/"
    assert sarif(report)["runs"][0]["automationDetails"]["id"].startswith("cors/staging/")


# -- the offline checker of GitHub's ingestion rules ------------------------------


@pytest.mark.parametrize(
    "build", [realistic, clean_run, hostile, lambda: realistic(partial=True, errors=True)]
)
def test_github_accepts_our_sarif(build: Any) -> None:
    log = sarif(build())
    assert github_sarif.problems(log) == []


def test_checker_rejects_what_main_wrote() -> None:
    """The location corsproof used to write: the endpoint URL (GitHub rejects the upload)."""
    log = sarif(realistic())
    for result in github_sarif.results(log):
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": ME}}}]
    found = github_sarif.problems(log)
    assert any("SARIF URI scheme 'https' did not match" in p for p in found), found
    assert any("region.startLine" in p for p in found), found


def _run(log: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = log["runs"][0]
    return first


def _result0(log: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = _run(log)["results"][0]
    return first


def _uri(uri: str) -> Any:
    def change(log: dict[str, Any]) -> None:
        _result0(log)["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = uri

    return change


def _rule_props(**props: Any) -> Any:
    return lambda log: _run(log)["tool"]["driver"]["rules"][0]["properties"].update(props)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda log: log.update(version="2.0.0"), "takes 2.1.0 only"),
        (lambda log: log.update(runs=[_run(log)] * 21), "over the limit of 20 per file"),
        (
            lambda log: log["runs"].append(json.loads(json.dumps(_run(log)))),
            "same tool and category",
        ),
        (
            lambda log: _run(log).update(results=_run(log)["results"] * 8334),
            "over the limit of 25000",
        ),
        (lambda log: _result0(log).pop("partialFingerprints"), "partialFingerprints: required"),
        (lambda log: _result0(log).update(locations=[]), "at least one is required"),
        (lambda log: _result0(log).update(ruleIndex=99), "ruleIndex"),
        (lambda log: _result0(log)["message"].update(text=""), "message.text: required"),
        (_uri("https://api.example.test/v1/me"), "SARIF URI scheme 'https' did not match"),
        (_uri("../outside.cors"), "leaves the repository"),
        (_uri("/etc/cors"), "relative to the repository root"),
        (_uri("a b.cors"), "not a valid URI reference"),
        (_rule_props(tags=[str(i) for i in range(21)]), "21 tags, over the limit of 20"),
        (_rule_props(**{"security-severity": "11"}), "is not 0.0-10.0"),
    ],
)
def test_checker_rejects(change: Any, needle: str) -> None:
    log = sarif(realistic())
    assert github_sarif.problems(log) == []
    change(log)
    found = github_sarif.problems(log)
    assert any(needle in p for p in found), found


def test_checker_accepts_file_uris_and_measures_the_gzip_size() -> None:
    log = sarif(realistic())
    _uri("file:///github/workspace/.corsproof/api.example.test/v1/me.cors")(log)
    assert github_sarif.problems(log) == []
    # 11 MB of random bytes stay over 10 MB after gzip.
    assert any("gzip" in p for p in github_sarif.problems(log, raw=os.urandom(11 << 20)))


# -- the lab run -------------------------------------------------------------------


@pytest.mark.browser
def test_lab_run_sarif_is_valid_and_github_ingestible(
    lab_both: LabRun, validator: Any, tmp_path: Path
) -> None:
    paths = write_reports(lab_both.data, tmp_path, ["sarif"])
    raw = paths[0].read_bytes()
    log = json.loads(raw)
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, errors[0]
    assert github_sarif.problems(log, raw=raw) == []
    results = list(github_sarif.results(log))
    assert len(results) == len(lab_both.data["findings"]) > 0
    for result in results:
        where = result["locations"][0]["physicalLocation"]
        placeholder = tmp_path / where["artifactLocation"]["uri"]
        line = placeholder.read_text().splitlines()[where["region"]["startLine"] - 1]
        assert line == f"target: {result['properties']['target']}"
        assert result["properties"]["target"] in result["message"]["text"]
    fingerprints = [json.dumps(r["partialFingerprints"]) for r in results]
    assert len(set(fingerprints)) == len(fingerprints)
    assert log["runs"][0]["automationDetails"]["id"] == "corsproof/chromium-firefox/lab"
    # A quick run: the caveat travels with the analysis.
    kinds = {c["kind"] for c in log["runs"][0]["properties"]["caveats"]}
    assert "quick-run" in kinds
    assert PUBLIC not in json.dumps(log)  # the sample report's targets are not in the lab's
