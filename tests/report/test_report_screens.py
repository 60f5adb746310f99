"""report.html in a real Chromium: the first screen and one finding, at 1400 px and in print.

Not golden images: each test measures the laid-out page (what fits in the first screen,
what overflows the viewport, which words wrap inside, what is clipped). The PNGs are
kept, and listed in the test output, only when a test fails (the ``artifacts`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Artifacts, needs_chromium
from conftest_report import big_report, realistic

from harness.engines.paths import find as find_system
from harness.report import html_page as report_html

pytestmark = [pytest.mark.browser, needs_chromium]

WIDE = {"width": 1400, "height": 900}
PRINT = {"width": 794, "height": 1123}
"""A4 at 96 dpi: the width Chromium lays a page out at when printing it."""

# Words (letters only, outside code and URLs) that the layout split across two lines.
BROKEN_WORDS = """(root) => {
  const bad = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('.mono, code, pre, summary') || !el.getClientRects().length) continue;
    const re = /[A-Za-z]{4,}/g;
    for (let m = re.exec(n.data); m; m = re.exec(n.data)) {
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const lines = new Set(Array.from(r.getClientRects()).filter((x) => x.width > 0)
        .map((x) => Math.round(x.top)));
      if (lines.size > 1) bad.push(m[0]);
    }
  }
  return bad.slice(0, 20);
}"""

# Elements whose right edge passes the viewport, or whose content is cut off.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [], clipped = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (!box.width) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '');
    if (box.right > width + 1) wide.push(name + ' right=' + Math.round(box.right));
    const style = getComputedStyle(el);
    if (['hidden', 'clip'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
      clipped.push(name);
  }
  return {width, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 10),
          clipped: clipped.slice(0, 10)};
}"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable, _ = find_system("chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("screens")
    files = {}
    for name, report in (("realistic", realistic()), ("big", big_report(8, 60))):
        path = out / name / "report.html"
        path.parent.mkdir()
        path.write_text(report_html.render(report), "utf-8")
        (path.parent / "probes.html").write_text(report_html.render_probes(report), "utf-8")
        files[name] = path
    return files


def _open(chromium: Any, path: Path, viewport: dict[str, int], media: str = "screen") -> Any:
    page = chromium.new_page(viewport=viewport)
    page.emulate_media(media=media)
    page.goto(path.as_uri(), wait_until="load")
    return page


@pytest.mark.parametrize("name", ["realistic", "big"])
def test_first_screen_at_1400_px(
    chromium: Any, pages: dict[str, Path], artifacts: Artifacts, name: str
) -> None:
    page = _open(chromium, pages[name], WIDE)
    try:
        page.screenshot(path=artifacts.path(f"{name}-first-screen-1400.png"))
        page.screenshot(path=artifacts.path(f"{name}-full-1400.png"), full_page=True)
        # The answer and the per-engine table are on the first screen, whole.
        for sel in ("#verdict", "#engine-exposure"):
            box = page.locator(sel).bounding_box()
            assert box is not None and box["y"] >= 0, sel
            assert box["y"] + box["height"] <= WIDE["height"], (sel, box)
        headline = page.locator("#verdict .headline").inner_text()
        assert headline.startswith("Exploitable")
        found = page.evaluate(OVERFLOW)
        assert found["scroll"] <= found["width"], found
        assert not found["wide"] and not found["clipped"], found
        for sel in ("#targets-overview", "#comparison-table", "#findings"):
            broken = page.locator(sel).evaluate(BROKEN_WORDS)
            assert not broken, (sel, broken)
    finally:
        page.close()


def test_one_finding_at_1400_px(
    chromium: Any, pages: dict[str, Path], artifacts: Artifacts
) -> None:
    page = _open(chromium, pages["realistic"], WIDE)
    try:
        finding = page.locator("#finding-1")
        # Open everything the finding folds, as a reviewer reading it would.
        finding.evaluate("(el) => el.querySelectorAll('details').forEach((d) => (d.open = true))")
        finding.scroll_into_view_if_needed()
        finding.screenshot(path=artifacts.path("finding-1-1400.png"))
        labels = finding.locator("dl.facts > dt").all_inner_texts()
        assert {"Target", "Origins", "Header-only check"} <= set(labels), labels
        assert any(label.startswith("What the browser said") for label in labels), labels
        # Every label sits beside its value, in one column of labels.
        xs = {
            round(b["x"])
            for b in (d.bounding_box() for d in finding.locator("dl.facts > dt").all())
            if b
        }
        assert len(xs) == 1, xs
        box = finding.bounding_box()
        assert box is not None and box["x"] + box["width"] <= WIDE["width"]
        assert not finding.evaluate(BROKEN_WORDS)
        poc = finding.locator('[data-testid="poc-page"]').inner_text()
        assert poc.startswith("<!doctype html>") and "fetch(" in poc
        found = page.evaluate(OVERFLOW)
        assert not found["wide"] and not found["clipped"], found
    finally:
        page.close()


@pytest.mark.parametrize("name", ["realistic", "big"])
def test_print_width_fits_the_page(
    chromium: Any, pages: dict[str, Path], artifacts: Artifacts, name: str
) -> None:
    page = _open(chromium, pages[name], PRINT, media="print")
    try:
        page.screenshot(path=artifacts.path(f"{name}-first-screen-print.png"))
        page.locator("#finding-1").screenshot(path=artifacts.path(f"{name}-finding-1-print.png"))
        found = page.evaluate(OVERFLOW)
        assert found["scroll"] <= found["width"], found
        assert not found["wide"], found
        assert not found["clipped"], found
        # On paper every folded section is open: the first finding's evidence shows.
        evidence = page.locator("#finding-1 details.evidence table").first
        box = evidence.bounding_box()
        assert box is not None and box["height"] > 0
        for sel in ("#summary", "#finding-1"):
            broken = page.locator(sel).evaluate(BROKEN_WORDS)
            assert not broken, (sel, broken)
    finally:
        page.close()


def test_probe_log_page_fits_1400_px_and_keeps_words_whole(
    chromium: Any, pages: dict[str, Path], artifacts: Artifacts
) -> None:
    page = _open(chromium, pages["big"].parent / "probes.html", WIDE)
    try:
        page.screenshot(path=artifacts.path("probes-first-screen-1400.png"))
        table = page.locator("#probe-log")
        box = table.bounding_box()
        assert box is not None and box["x"] + box["width"] <= WIDE["width"], box
        assert page.locator("#probe-log tbody tr").count() > 100
        # The first rows are on the first screen, the header above them.
        first = page.locator("#probe-log tbody tr").nth(1).bounding_box()
        assert first is not None and first["y"] + first["height"] <= WIDE["height"]
        assert not table.evaluate(BROKEN_WORDS)
        found = page.evaluate(OVERFLOW)
        assert found["scroll"] <= found["width"] and not found["clipped"], found
    finally:
        page.close()


def test_a_big_run_stays_about_a_screen_per_target(chromium: Any, tmp_path: Path) -> None:
    """20 targets x 125 origins: the page was 34,481 px tall with the probe log inline
    (the full lab run 71,452 px); now the log is in probes.html and repeats fold."""
    report = big_report()
    path = tmp_path / "report.html"
    path.write_text(report_html.render(report), "utf-8")
    page = _open(chromium, path, WIDE)
    try:
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= len(report["targets"]) * WIDE["height"], height
    finally:
        page.close()
