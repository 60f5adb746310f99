"""reporting: format parsing, atomic writing, and the shared verdict derivations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import pytest
from conftest_report import EVIL, ME, PUBLIC, clean_run, realistic

from harness.report import common as reporting
from harness.report import writers
from harness.report.common import engine_exposure, verdict
from harness.report.writers import FILENAMES, FORMATS, parse_formats, write_reports


def test_parse_formats() -> None:
    assert parse_formats("html") == ("html",)
    assert parse_formats(" JSON, sarif ,json,,md ") == ("json", "sarif", "md")
    assert parse_formats("all") == FORMATS
    with pytest.raises(ValueError, match="html, json, junit, sarif, md"):
        parse_formats("html,pdf")
    with pytest.raises(ValueError, match="no report format"):
        parse_formats(" , ")


def test_write_reports_writes_every_format(tmp_path: Path) -> None:
    out = tmp_path / "out" / "nested"
    paths = write_reports(realistic(), out, FORMATS, fail_on="low")
    assert [p.name for p in paths] == [FILENAMES[f] for f in FORMATS]
    # Beside the reports, only the probe log report.html links to and the placeholders
    # report.sarif points at.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*FILENAMES.values(), "probes.html", ".corsproof"]
    )
    placeholders = sorted(str(p.relative_to(out)) for p in (out / ".corsproof").rglob("*.cors"))
    assert placeholders == [
        ".corsproof/api.example.test/v1/me.cors",
        ".corsproof/api.example.test/v1/public.cors",
    ]
    assert not list(out.glob("**/.*.tmp")), "no temporary file is left"
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["run_id"]
    assert (out / "junit.xml").read_text(encoding="utf-8").count("<failure") == 2
    assert (out / "report.html").stat().st_mode & 0o777 == 0o644


def test_write_reports_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    target.write_text("OLD", encoding="utf-8")

    def broken(report: Any, fp: TextIO, *, fail_on: str) -> None:
        fp.write('{"half": ')
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(writers.WRITERS, "json", writers.Writer("report.json", broken))
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_reports(realistic(), tmp_path, ["json"])
    assert target.read_text(encoding="utf-8") == "OLD"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_write_reports_rejects_bad_input_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_reports(realistic(), tmp_path / "x", ["pdf"])
    with pytest.raises(ValueError):
        write_reports(realistic(), tmp_path / "y", ["json"], fail_on="nope")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_verdict_levels() -> None:
    v = verdict(realistic())
    assert v.level == "exploitable" and v.engines == ("chromium", "firefox")
    assert (
        v.headline
        == ("Exploitable: attacker origins can read the victim's data in Chromium and Firefox")
        or "Chromium" in v.headline
    )
    assert verdict(clean_run()).level == "clean"
    partial_clean = clean_run() | {"partial": True}
    assert verdict(partial_clean).level == "inconclusive"


def test_permissive_only_is_conditional() -> None:
    report = realistic()
    for f in report["findings"]:
        f["cookie_policies"] = ["permissive"]
    exposure = {e.engine: e for e in engine_exposure(report)}
    assert exposure["chromium"].permissive_only and not exposure["chromium"].default
    assert verdict(report).level == "conditional"


def test_hygiene_findings_do_not_make_it_exploitable() -> None:
    report = realistic()
    report["findings"] = [f for f in report["findings"] if f["category"] != "vulnerability"]
    assert verdict(report).level == "clean"
    assert "hygiene" in verdict(report).detail


def test_comparisons_are_one_row_per_origin_from_its_story() -> None:
    rows = reporting.comparisons(realistic())
    by = {(r.target, r.origin): r for r in rows}
    # The reflected origin read the victim's data: a finding, linked.
    reflected = by[(ME, EVIL)]
    assert reflected.standing == "finding" and reflected.anchor == "finding-1"
    assert "read the victim's data with the session cookie in Chromium" in reflected.browsers_say
    # The header-only "null" conclusion against what the browsers did with null.
    null = by[(ME, "null")]
    assert null.kind == "header-false-positive" and null.standing == "not-read"
    assert null.browsers_say == "blocked in Chromium and Firefox"
    assert "(the browser said: ACAO missing)" in null.why
    # A public answer the browsers read: the scanner's critical is a false positive,
    # and the row says the read is no finding, and why.
    public = by[(PUBLIC, EVIL)]
    assert public.kind == "header-false-positive" and public.standing == "public"
    assert public.browsers_say == "read only the public answer in Chromium and Firefox"
    assert "it is no vulnerability: the server declared the answer public" in public.why
    assert len(rows) == 3


def test_disagreements_in_report_json_are_not_what_the_html_compares() -> None:
    """The comparison is derived from the probes, not from a stored list that could differ."""
    report = realistic()
    report["disagreements"] = [
        {"kind": "header-false-positive", "target": ME, "origin": EVIL, "explanation": "stale"}
    ]
    rows = reporting.comparisons(report)
    assert not [r for r in rows if "stale" in r.why]


def test_header_blind_findings_are_header_misses() -> None:
    report = realistic()
    blocked = dict(
        next(p for p in report["probes"] if p["role"] == "legitimate"),
        id="legit-blocked",
        shape="preflight-json",
        outcome="blocked",
        readable=False,
        block_reason="PreflightMissingAllowOriginHeader; preflight: no ACAO",
    )
    report["probes"].append(blocked)
    report["findings"].append(
        {
            "rule": "legit-origin-blocked",
            "severity": "medium",
            "category": "functional",
            "target": ME,
            "origins": ["https://app.example.test"],
            "title": "blocked",
            "probes": ["legit-blocked"],
        }
    )
    (row,) = [r for r in reporting.comparisons(report) if r.source == "finding"]
    assert row.kind == "header-miss" and row.disagree and row.standing == "legitimate"
    # What the finding's own probes did, not the origin's best read.
    assert row.browsers_say == (
        "blocked in Chromium for preflight-json: PreflightMissingAllowOriginHeader; "
        "preflight: no ACAO"
    )
