"""Verdicts that state their caveats: banner, summary.md, JUnit and the exit status agree."""

from __future__ import annotations

import copy
import http.server
import io
import json
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_chromium, only_classes
from conftest_report import ME, clean_run, realistic

from harness.cli import exit_status, main
from harness.judge.caveats import caveats, planned_probes, unanswered_targets
from harness.report import junit as report_junit
from harness.report import markdown as report_md
from harness.report.common import verdict
from harness.report.html_page import render


def quick_run_with_errors() -> dict[str, Any]:
    """The issue's case: --per-class 1, two attacker probes ended in error, no finding."""
    report = clean_run()
    extra = []
    for i, probe in enumerate(report["probes"][:2]):
        p = copy.deepcopy(probe)
        p.update(id=f"err-{i}", role="attacker", outcome="error", readable=False, status=None)
        p["error"] = "timeout after 10000 ms"
        extra.append(p)
    report["probes"] += extra
    report["config"] = {"per_class": 1, "engines": ["chromium"]}
    report["plan"] = {"probes": len(report["probes"]) + 3}
    return report


def test_a_clean_verdict_says_how_much_of_the_plan_it_rests_on() -> None:
    report = quick_run_with_errors()
    planned = planned_probes(report)
    judged = len(report["probes"]) - 2
    v = verdict(report)
    assert v.level == "clean"
    assert v.headline == f"No exploitable CORS issue found in {judged} of {planned} planned probes"
    assert "any browser tested" not in v.detail and "see the caveats" in v.detail
    kinds = [c.kind for c in v.caveats]
    assert kinds == ["probe-errors", "quick-run"]
    probe_errors = v.caveats[0]
    assert probe_errors.error and probe_errors.count == 2
    assert "2 from attacker origins" in probe_errors.text and "timeout" in probe_errors.text
    assert not v.caveats[1].error and "--per-class 1" in v.caveats[1].text


def test_every_view_states_the_caveats() -> None:
    report = quick_run_with_errors()
    md = report_md.render(report)
    assert "2 probe(s) ended in error" in md and "Quick run" in md
    headline = next(line for line in md.splitlines() if line.startswith("## "))
    assert "\u2705" not in headline, "a verdict with unverified probes gets no green tick"
    page = render(report)
    assert 'id="caveats"' in page and 'data-kind="probe-errors"' in page
    buf = io.StringIO()
    report_junit.write(report, buf)
    root = ET.fromstring(buf.getvalue())
    assert root.get("errors") == "1"
    errors = [e.get("type") for e in root.iter("error")]
    assert errors == ["probe-errors"]


def test_a_run_without_caveats_has_none() -> None:
    assert caveats(clean_run()) == []
    assert verdict(clean_run()).headline.startswith("No exploitable CORS issue found in 2 of 2")


def test_missing_engine_is_named_with_its_reason() -> None:
    report = clean_run()
    report["config"] = {"engines": ["chromium", "firefox", "webkit"]}
    report["errors"] = [
        {"kind": "browser-missing", "message": "webkit not found: install webkit2gtk-driver"}
    ]
    (c,) = [c for c in caveats(report) if c.kind == "missing-engine"]
    assert c.error and c.count == 2
    assert "firefox did not run" in c.text and "webkit not found" in c.text
    assert not [c for c in caveats(report) if c.kind == "tool-errors"]


def test_an_unreachable_run_does_not_blame_the_engines() -> None:
    report = clean_run()
    report["browsers"], report["probes"] = [], []
    report["config"] = {"engines": ["chromium"]}
    report["errors"] = [{"kind": "target", "message": f"target {ME} is unreachable: refused"}]
    assert [c.kind for c in caveats(report)] == ["tool-errors"]


def test_budget_cut_off() -> None:
    report = clean_run()
    report["partial"] = True
    report["plan"] = {"probes": 10}
    report["errors"] = [{"kind": "budget", "message": "the run budget of 60s ran out"}]
    (c,) = caveats(report)
    assert c.kind == "partial" and c.error and c.count == 8
    assert "budget" in c.text and "8 of 10 planned probes were not measured" in c.text
    assert verdict(report).headline == "Inconclusive: the run budget ran out before every probe ran"


def silent(report: dict[str, Any]) -> dict[str, Any]:
    for p in report["probes"]:
        p.update(outcome="error", readable=False, status=None, error="timeout after 10000 ms")
    return report


def test_a_target_that_answered_nothing() -> None:
    report = silent(clean_run())
    assert unanswered_targets(report) == [(ME, 2, "timeout after 10000 ms")]
    v = verdict(report)
    assert v.level == "inconclusive" and "answered none" in v.headline
    assert v.caveats[0].kind == "no-answer"


def test_a_target_that_answered_the_replay_did_answer() -> None:
    # Probes lost to a browser that never started say nothing about the target.
    report = silent(clean_run())
    report["evidence"] = [
        {
            "key": "k",
            "target": ME,
            "origin": "o",
            "shape": "s",
            "credentials": "omit",
            "preflight": None,
            "actual": {"method": "GET", "url": ME, "request_headers": [], "status": 200},
        }
    ]
    assert unanswered_targets(report) == []
    assert exit_status(report, findings=False, fail_on_error=False) == (0, [])


def test_one_silent_target_beside_answering_ones_is_a_caveat() -> None:
    report = clean_run()
    other = f"{ME}/down"
    report["targets"] = [ME, other]
    for p in copy.deepcopy(report["probes"]):
        p.update(
            id=p["id"] + "-down",
            target=other,
            outcome="error",
            readable=False,
            status=None,
            error="timeout after 2000 ms",
        )
        report["probes"].append(p)
    (c,) = [c for c in caveats(report) if c.kind == "no-answer"]
    assert c.error and other in c.text
    assert verdict(report).level == "clean"
    assert exit_status(report, findings=False, fail_on_error=False) == (0, [])
    assert exit_status(report, findings=False, fail_on_error=True)[0] == 2


def test_exit_status() -> None:
    assert exit_status(clean_run(), findings=False, fail_on_error=True) == (0, [])
    assert exit_status(quick_run_with_errors(), findings=False, fail_on_error=False) == (0, [])
    code, lines = exit_status(quick_run_with_errors(), findings=False, fail_on_error=True)
    assert code == 2 and lines == [
        "--fail-on-error: the verdict has caveats that are errors (probe-errors)"
    ]
    # Findings are real, but a run that could not measure all it was asked wins.
    assert exit_status(realistic(), findings=True, fail_on_error=False) == (1, [])
    assert exit_status(realistic(), findings=True, fail_on_error=True)[0] == 2
    code, lines = exit_status(silent(clean_run()), findings=False, fail_on_error=False)
    assert code == 2 and "answered none of its probes" in lines[0]


# -- a real target that accepts connections and never answers ----------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/me"
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.browser
@needs_chromium
def test_a_target_that_never_answers_exits_2(silent_server: str, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "verify",
            "--target",
            silent_server,
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            *only_classes(),
            "--timeout",
            "1",
            "--out",
            str(tmp_path),
            "--run-id",
            "silent",
            "--format",
            "json,md,junit",
        ],
        out=out,
        err=err,
    )
    assert code == 2, err.getvalue()
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("corsproof: error:")]
    assert len(lines) == 1 and "answered none of its probes" in lines[0], err.getvalue()
    assert "did not answer the first request" in err.getvalue()
    assert "verdict: Inconclusive: the target answered none of the probes" in out.getvalue()
    data = json.loads((tmp_path / "silent" / "report.json").read_text())
    assert data["probes"] and {p["outcome"] for p in data["probes"]} == {"error"}
    assert data["plan"]["probes"] == len(data["probes"])
    assert "answered none" in (tmp_path / "silent" / "summary.md").read_text()
    junit = ET.fromstring((tmp_path / "silent" / "junit.xml").read_text())
    assert int(junit.get("errors", "0")) >= 1


LEGIT = "https://app.example.com"


class _HalfBroken(http.server.BaseHTTPRequestHandler):
    """Answers the legitimate origin; hangs up on every other one without a response."""

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.headers.get("Origin") not in (LEGIT, None):
            self.close_connection = True
            return  # no status line at all: the browser sees a network error
        self.send_response(200 if self.command != "OPTIONS" else 204)
        self.send_header("Access-Control-Allow-Origin", LEGIT)
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Access-Control-Allow-Headers", "authorization, content-type")
        self.send_header("Vary", "Origin")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_OPTIONS = _answer


@pytest.fixture
def half_broken() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HalfBroken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/me"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@needs_chromium
def test_fail_on_error_turns_probe_errors_into_exit_2(half_broken: str, tmp_path: Path) -> None:
    args = [
        "verify",
        "--target",
        half_broken,
        "--allow-origin",
        LEGIT,
        "--browser",
        "chromium",
        "--cookie-policy",
        "default",
        *only_classes(),
        "--timeout",
        "3",
        "--out",
        str(tmp_path),
        "--format",
        "json",
        "--quiet",
    ]
    out, err = io.StringIO(), io.StringIO()
    assert main([*args, "--run-id", "plain"], out=out, err=err) == 0, err.getvalue()
    assert "caveat: " in out.getvalue() and "ended in error" in out.getvalue()
    data = json.loads((tmp_path / "plain" / "report.json").read_text())
    assert {p["outcome"] for p in data["probes"] if p["role"] == "attacker"} == {"error"}
    assert {p["outcome"] for p in data["probes"] if p["role"] == "legitimate"} == {"readable"}

    out, err = io.StringIO(), io.StringIO()
    assert main([*args, "--run-id", "strict", "--fail-on-error"], out=out, err=err) == 2
    assert err.getvalue().strip().splitlines()[-1] == (
        "corsproof: error: --fail-on-error: the verdict has caveats that are errors (probe-errors)"
    )
    # The report is written all the same.
    assert (tmp_path / "strict" / "report.json").exists()


def test_merge_fail_on_error(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(json.dumps(quick_run_with_errors()))
    args = ["merge", str(run), "--out", str(tmp_path), "--format", "json"]
    assert main(args, out=io.StringIO(), err=io.StringIO()) == 0
    err = io.StringIO()
    assert main([*args, "--fail-on-error"], out=io.StringIO(), err=err) == 2
    assert "--fail-on-error" in err.getvalue()
    merged = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert merged["plan"]["probes"] == planned_probes(quick_run_with_errors())
    assert merged["config"]["per_class"] == 1


def test_unknown_witnesses_are_caveats_never_verdicts() -> None:
    report = clean_run()
    base = copy.deepcopy(report["probes"][0])
    base.update(role="attacker", outcome="readable", readable=True, credentials="include")
    nothing = {**base, "id": "u1", "cookie_sent": None, "victim_note": "no request reached"}
    varies = {**base, "id": "u2", "cookie_sent": True, "victim_data": None, "victim_note": "varies"}
    report["probes"] += [nothing]
    [c] = [c for c in caveats(report) if c.kind == "unknown-witness"]
    assert c.error and c.count == 1 and "no request reached" in c.text
    report["probes"][-1] = varies
    [c] = [c for c in caveats(report) if c.kind == "unknown-witness"]
    # Data that cannot be told is a limit of the measurement, not a failure of the tool.
    assert not c.error and "cannot be told (varies)" in c.text
    assert "unknown-witness" not in {c.kind for c in caveats(clean_run())}
