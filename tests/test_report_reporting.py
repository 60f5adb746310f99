"""reporting: format parsing, atomic writing, and the shared verdict derivations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import pytest
from conftest_report import EVIL, ME, clean_run, realistic

from harness import report_json, reporting
from harness.reporting import (
    FILENAMES,
    FORMATS,
    engine_exposure,
    parse_formats,
    verdict,
    write_reports,
)


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
    # Beside the reports, only the placeholders report.sarif points at.
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILENAMES.values(), ".corsproof"])
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

    def broken(report: Any, fp: TextIO) -> None:
        fp.write('{"half": ')
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(report_json, "write", broken)
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


def test_comparisons_cover_findings_disagreements_and_header_only() -> None:
    rows = reporting.comparisons(realistic())
    sources = [r.source for r in rows]
    assert sources.count("finding") == 3
    assert sources.count("disagreement") == 1
    header_only = [r for r in rows if r.source == "header-only"]
    # The PUBLIC/EVIL header-only row is covered by the finding and the disagreement.
    assert [(r.target, r.origin) for r in header_only] == [(ME, "null")]
    assert header_only[0].disagree and "blocked in every engine" in header_only[0].browsers_say
    wildcard = next(r for r in rows if r.rule == "wildcard-credentials")
    assert wildcard.disagree  # header says critical, no engine let the attacker read
    reflected = next(r for r in rows if r.rule == "reflected-origin-credentials")
    assert not reflected.disagree
    assert EVIL in reflected.origin


def test_duration_and_time_parsing() -> None:
    assert reporting.duration_seconds(realistic()) == pytest.approx(205.5)
    assert reporting.duration_seconds(realistic(partial=True)) is None
    assert reporting.format_duration(None) == "\u2014"
    assert reporting.format_duration(4.25) == "4.2s"
    assert reporting.format_duration(3725) == "1h 02m 05s"
    assert reporting.parse_time("garbage") is None


def test_disagreements_in_headercheck_shape() -> None:
    report = realistic()
    report["disagreements"] = [
        {
            "kind": "header-false-positive",
            "target": ME,
            "origin": "null",
            "rule": None,
            "browser_severity": None,
            "header_severity": "high",
            "explanation": "every engine blocked the read",
        },
        {
            "kind": "header-miss",
            "target": ME,
            "origin": None,
            "rule": "legit-origin-blocked",
            "browser_severity": "medium",
            "header_severity": None,
            "explanation": "the preflight fails",
        },
    ]
    rows = [r for r in reporting.comparisons(report) if r.source == "disagreement"]
    assert [(r.header_says, r.browsers_say) for r in rows] == [
        ("vulnerable (high)", "no engine confirmed it: every engine blocked the read"),
        ("nothing to report", "legit-origin-blocked (medium): the preflight fails"),
    ]
    assert rows[1].origin == ""
    # The header-only "null" row is now covered by the disagreement.
    assert not [r for r in reporting.comparisons(report) if r.source == "header-only"]
