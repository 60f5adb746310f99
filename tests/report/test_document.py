"""report.document: the redacted report dict without a dict per probe, equal to the old one.

The reference is what the CLI has built so far, ``_redact_dict(report.to_dict(), redact)``:
every writer must give the same bytes from either, and the JSON must be the same text.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tracemalloc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest_report import hostile, realistic

from harness.cli import _redact_dict, exit_status
from harness.cli.terminal import json_summary, print_summary
from harness.judge.assemble import assemble
from harness.model.redact import Redactor
from harness.model.results import (
    Evidence,
    HttpExchange,
    RunReport,
    evidence_from_dict,
    observation_from_dict,
)
from harness.report import html_page, json_doc, junit, markdown, sarif
from harness.report.common import origin_stories
from harness.report.document import ProbeRow, RecordRow, Rows, document, plain
from harness.report.merge import merge
from harness.tools.memory import Synthetic, config_for


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory: pytest.TempPathFactory) -> RunReport:
    """One synthetic lab endpoint in five engine and cookie-profile pairs (1,785 probes)."""
    return assemble(Synthetic(config_for(1, tmp_path_factory.mktemp("doc"))).run())


def odd(report: RunReport) -> RunReport:
    """``report`` plus an exchange record that does not read back as itself
    (empty source, no protocol) and a probe whose strings name the secret."""
    x = HttpExchange("GET", report.targets[0], (("Origin", "null"),), 200, source="", protocol="")
    e = report.evidence[0]
    weird = Evidence(f"{e.key} odd", e.target, e.origin, e.shape, e.credentials, None, x)
    probe = dataclasses.replace(report.probes[0], id="p-secret", error="token s3cr3t-value")
    return dataclasses.replace(
        report, probes=(*report.probes, probe), evidence=(*report.evidence, weird)
    )


REDACTORS: dict[str, Callable[[str], str]] = {
    "none": Redactor().text,
    # Secrets inside target paths, an engine name (an enum value) and an error. (Not in a
    # host: "[REDACTED]" there makes the URL unparsable, and the HTML writer fails.)
    "secrets": Redactor(["allowlist", "chromium", "s3cr3t-value", "alert(1)"]).text,
}


def reports(lab_run: RunReport) -> dict[str, RunReport]:
    return {
        "lab": odd(lab_run),
        "realistic": merge([realistic()], run_id="r"),
        "hostile": odd(merge([hostile()], run_id="h")),
    }


def rendered(data: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the CLI makes of a report dict."""
    junit_xml = io.StringIO()
    junit.write(data, junit_xml)
    summary = io.StringIO()
    print_summary(data, [Path("report.json")], summary)
    return {
        "json": json_doc.dumps(data),
        "json compact": json_doc.dumps(data, compact=True),
        "html": html_page.render(data),
        "probes.html": html_page.render_probes(data),
        "md": markdown.render(data),
        "junit": junit_xml.getvalue(),
        "sarif": sarif.build(data),
        "exit": exit_status(data, findings=True, fail_on_error=True),
        "summary": summary.getvalue(),
        "--json": json_summary("verify", data, 1),
        "stories": origin_stories(data),
    }


@pytest.mark.parametrize("redactor", list(REDACTORS))
def test_every_writer_gives_what_the_redacted_dict_gave(lab_run: RunReport, redactor: str) -> None:
    redact = REDACTORS[redactor]
    for name, report in reports(lab_run).items():
        legacy = _redact_dict(report.to_dict(), redact)
        doc = document(report, redact)
        assert doc == legacy, name
        assert list(doc) == list(legacy), name
        assert json.dumps(doc, default=plain) == json.dumps(legacy), name
        want, got = rendered(legacy), rendered(doc)
        for part in want:
            assert got[part] == want[part], f"{name}: {part}"
    if redactor == "secrets":
        assert "chromium" not in want["json"] and "[REDACTED]" in want["json"]


def test_rows_read_like_the_dicts(lab_run: RunReport) -> None:
    report = odd(lab_run)
    legacy = report.to_dict()
    doc = document(report)
    rows, plain_rows = doc["probes"], legacy["probes"]
    assert isinstance(rows, Rows) and len(rows) == len(plain_rows)
    assert rows[-1] == plain_rows[-1] and rows[:2] == plain_rows[:2]
    row = rows[0]
    assert isinstance(row, ProbeRow)
    assert dict(row) == plain_rows[0] == row.plain()
    assert row.get("nope", 7) == 7 and "nope" not in row and "readable" in row
    assert {**row, "id": "x"}["id"] == "x"
    with pytest.raises(KeyError):
        row["nope"]
    ev = doc["evidence"][0]
    assert isinstance(ev, RecordRow) and ev == legacy["evidence"][0]
    assert isinstance(ev["actual"] or ev["preflight"], Mapping)


def test_reading_back_skips_the_copy_only_where_it_equals_one(lab_run: RunReport) -> None:
    report = odd(lab_run)
    doc = document(report, REDACTORS["secrets"])
    legacy = _redact_dict(report.to_dict(), REDACTORS["secrets"])

    def read(f: Callable[[], Any]) -> Any:
        try:
            return f()
        except (KeyError, ValueError, TypeError) as exc:  # what origin_stories skips
            return type(exc)

    for row, want in zip(doc["probes"], legacy["probes"], strict=True):
        assert read(row.observation) == read(lambda w=want: observation_from_dict(w))
    for row, want in zip(doc["evidence"], legacy["evidence"], strict=True):
        assert read(row.evidence) == read(lambda w=want: evidence_from_dict(w))
    # Unredacted rows are their records; a redacted one, or the odd exchange, a copy.
    clean = document(report)
    assert clean["probes"][0].observation() is report.probes[0]
    secret = document(report, Redactor(["s3cr3t-value"]).text)["probes"][-1].observation()
    assert secret is not report.probes[-1] and secret.error == "token [REDACTED]"
    assert clean["evidence"][-1].evidence() is not report.evidence[-1]


def test_a_document_holds_no_dict_per_probe(lab_run: RunReport) -> None:
    redact = REDACTORS["secrets"]
    tracemalloc.start()
    try:
        legacy = _redact_dict(lab_run.to_dict(), redact)
        legacy_size = tracemalloc.get_traced_memory()[0]
        del legacy
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        doc = document(lab_run, redact)
        doc_size = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(doc["probes"]) == 1785
    assert doc_size * 20 < legacy_size


def _whole_run_stories(data: Mapping[str, Any]) -> Any:
    """origin_stories as it was: every probe and record read back, then one stories()."""
    from harness.judge.story import stories

    obs = []
    for p in data["probes"]:
        try:
            obs.append(observation_from_dict(p))
        except (KeyError, ValueError, TypeError):
            continue
    evs = []
    for e in data["evidence"]:
        try:
            evs.append(evidence_from_dict(e))
        except (KeyError, ValueError, TypeError):
            continue
    return stories(obs, evs)


def test_stories_per_target_are_the_whole_runs(lab_run: RunReport) -> None:
    data = merge([realistic(), lab_run.to_dict()], run_id="m").to_dict()
    # A probe naming another target's exchange record (only the key reaches it), a probe
    # without a target, and a record without a key: as the whole-run index treats them.
    i, read = next(
        (i, p)
        for i, p in enumerate(data["probes"])
        if p["outcome"] == "readable" and p["credentials"] == "omit" and p["role"] == "attacker"
    )
    other = next(e for e in data["evidence"] if e["target"] != read["target"] and e["actual"])
    public = {**other["actual"], "response_headers": [["Access-Control-Allow-Origin", "*"]]}
    data["evidence"].append({**other, "key": "elsewhere", "actual": public})
    data["probes"][i] = {**read, "evidence": "elsewhere"}
    data["probes"].append({k: v for k, v in data["probes"][1].items() if k != "target"})
    data["evidence"].append({k: v for k, v in data["evidence"][1].items() if k != "key"})
    told = origin_stories(data)
    assert told == _whole_run_stories(data)
    # ... and the record named by key counts (without it the probe's read is not public).
    without = {**data, "evidence": [e for e in data["evidence"] if e.get("key") != "elsewhere"]}
    key = (read["target"], read["origin"])
    assert told[key] != _whole_run_stories(without)[key]
    assert len({t for t, _ in told}) > 1
    # A target that is not a string: the whole run at once, as before.
    data["probes"].append({**data["probes"][2], "target": 5})
    with pytest.raises(TypeError):
        _whole_run_stories(data)
    with pytest.raises(TypeError):
        origin_stories(data)
