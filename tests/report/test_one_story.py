"""One story per origin: the matrix, the comparison and the findings of report.html agree.

Two real runs in Chromium: the hostile corpus (plain-http targets, one reflecting every
origin, with the http version of the app's origin among the attackers) and the lab.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import HAVE_CHROMIUM, LabRun, needs_chromium, only_classes
from hostile import LEGIT, HostileServer
from one_story import cross_check, views

from harness.cli import main
from harness.report import html_page as report_html
from harness.report.common import comparisons

COOKIE = "corsproof_sid=hostileCanary93b1e0"
PATHS = ("/xss", "/acao-space", "/true-caps", "/ok")
"""Reflect every origin; reflect with a trailing space; credentials TRUE; the app only."""


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Reflecting, malformed and correct http targets; legitimate, unrelated, null, http."""
    if not HAVE_CHROMIUM:
        pytest.skip("chromium is not installed")
    out = tmp_path_factory.mktemp("story")
    with HostileServer() as srv:
        argv = [
            "verify",
            *(x for p in PATHS for x in ("--target", srv.url(p))),
            "--allow-origin",
            LEGIT,
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--cookie",
            COOKIE,
            "--out",
            str(out),
            "--run-id",
            "s",
            "--format",
            "json,html",
            "--timeout",
            "3",
            "--budget",
            "90",
            "--quiet",
            *only_classes("scheme-downgrade", "null"),
        ]
        code = main(argv, out=io.StringIO(), err=io.StringIO())
    assert code in (0, 1)
    data = json.loads((out / "s" / "report.json").read_text("utf-8"))
    data["_html"] = (out / "s" / "report.html").read_text("utf-8")
    yield data


@pytest.mark.browser
@needs_chromium
def test_hostile_report_tells_one_story_per_origin(hostile_run: dict[str, Any]) -> None:
    page = hostile_run.pop("_html")
    xss = next(t for t in hostile_run["targets"] if t.endswith("/xss"))
    # The case the check exists for: the server reflects every origin over plain http,
    # and the http version of the app's origin reads it like any other.
    assert (xss, "http://app.example.com") in views(page).matrix_read
    cross_check(hostile_run, page)
    reflect = [
        f for f in hostile_run["findings"] if f["target"] == xss and f["rule"] == "any-origin-read"
    ]
    assert reflect and "http://app.example.com" in reflect[0]["origins"]
    # Rendering again from report.json gives the same page: the HTML is the JSON's.
    assert report_html.render(hostile_run) == page
    # The proofs of concept repeat what the browser sent, the user's cookie named for
    # its flag, never its value. (A cookie without attributes is SameSite=Lax, so it
    # goes only where the browser sent it; test_report_poc covers the naming itself.)
    sent = any(
        name.lower() == "cookie"
        for e in hostile_run["evidence"]
        for x in (e.get("actual"), e.get("preflight"))
        if x
        for name, _ in x.get("request_headers") or []
    )
    assert sent == ("&lt;value of --cookie corsproof_sid&gt;" in page)
    assert COOKIE.split("=", 1)[1] not in page
    assert "[REDACTED]" not in page


@pytest.mark.browser
@needs_chromium
def test_lab_report_tells_one_story_per_origin(lab_both: LabRun) -> None:
    cross_check(lab_both.data, report_html.render(lab_both.data))


def test_cross_check_catches_a_read_called_unconfirmed(tmp_path: Path) -> None:
    """The checker itself: a comparison row that denies a matrix read fails it."""
    from conftest_report import realistic

    report = realistic()
    # The sample's stored disagreements are hand-written; a run stores what the
    # comparison computes (the lab and hostile tests check that against real runs).
    report["disagreements"] = [
        {"target": c.target, "origin": c.origin, "kind": c.kind}
        for c in comparisons(report)
        if c.disagree
    ]
    page = report_html.render(report)
    cross_check_ok = True
    try:
        cross_check(report, page)
    except AssertionError:
        cross_check_ok = False
    assert cross_check_ok, "the realistic sample must pass"
    broken = page.replace("read the victim", "no engine confirmed a read; read the victim")
    with pytest.raises(AssertionError):
        cross_check(report, broken)
