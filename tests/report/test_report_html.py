"""report.html: summary first, escaped target data, no script and no external loads."""

from __future__ import annotations

import html
import io
import re
import shlex
from html.parser import HTMLParser
from typing import Any

import pytest
from conftest_report import (
    ATTR,
    CDATA,
    EVIL,
    ME,
    PUBLIC,
    XSS,
    big_report,
    clean_run,
    hostile,
    realistic,
)

from harness.report import html_page as report_html
from harness.report.html_page import CSP, curl_actual, curl_preflight


def render(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    report_html.write(report, buf)
    return buf.getvalue()


class Tags(HTMLParser):
    """Collects every start tag with its attributes, and the text of <code> blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.testids: list[str] = []
        self._code = False
        self.code: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if a.get("data-testid"):
            self.testids.append(str(a["data-testid"]))
        if tag == "code":
            self._code = True
            self.code.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._code = False

    def handle_data(self, data: str) -> None:
        if self._code:
            self.code[-1] += data


def parse(page: str) -> Tags:
    p = Tags()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(
    params=[
        (name, page)
        for name in ("realistic", "partial", "hostile", "clean")
        for page in ("report", "probes")
    ],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def any_page(request: pytest.FixtureRequest) -> str:
    name, page = request.param
    build = {
        "realistic": realistic,
        "partial": lambda: realistic(partial=True, errors=True),
        "hostile": hostile,
        "clean": clean_run,
    }[name]
    return render(build()) if page == "report" else report_html.render_probes(build())


def test_csp_meta_is_first_in_head(any_page: str) -> None:
    assert CSP == (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    assert re.search(
        r"<head>\s*<meta http-equiv=\"Content-Security-Policy\" content=\"" + re.escape(CSP) + '">',
        any_page,
    )


def test_no_script_no_external_loads_no_handlers(any_page: str) -> None:
    assert "<script" not in any_page.lower()
    tags = parse(any_page)
    forbidden = {
        "script",
        "img",
        "iframe",
        "object",
        "embed",
        "link",
        "base",
        "form",
        "svg",
        "math",
        "meta-refresh",
        "frame",
        "audio",
        "video",
        "source",
    }
    for tag, attrs in tags.tags:
        assert tag not in forbidden, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name not in ("src", "srcset", "action", "formaction", "background")
            if name == "href":
                # Only the page's own anchors and its sibling page are links.
                assert value is not None and re.fullmatch(
                    r"#(?:finding|fix)-\d+|probes\.html|report\.html", value
                ), value
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            pytest.fail("meta refresh")
    assert not re.search(
        r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//|javascript:)""", any_page, re.I
    )
    assert "@import" not in any_page and "url(" not in any_page


def test_no_raw_control_characters(any_page: str) -> None:
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", any_page)


def test_first_screen_of_realistic_report() -> None:
    page = render(realistic())
    tags = parse(page)
    for key in (
        "verdict",
        "severity-counts",
        "engine-exposure",
        "comparison",
        "comparison-table",
        "matrix-1",
        "matrix-2",
        "finding-1",
        "findings",
        "probe-log",
        "browsers",
        "run-facts",
    ):
        assert key in tags.ids, key
    assert "partial-banner" not in tags.ids
    # Summary comes before everything else, then the findings, then what backs them.
    assert (
        page.index('id="verdict"')
        < page.index('id="targets-overview"')
        < page.index('id="finding-1"')
        < page.index('id="comparison"')
        < page.index('id="matrix-1"')
        < page.index('id="probe-log"')
    )
    assert '<a href="probes.html">' in page
    assert "Exploitable: attacker origins can read the victim&#39;s data in Chromium" in page
    # Firefox is exploitable too (permissive profile lists default as well in this finding).
    exposure = page[
        page.index('id="engine-exposure"') : page.index(
            "</table>", page.index('id="engine-exposure"')
        )
    ]
    assert 'data-engine="Chromium" data-exploitable="yes"' in exposure
    assert 'data-count="1"' in page[page.index('data-testid="count-critical"') - 80 :][:200]
    assert "131.0.6778.33" in page and "playwright" in page
    assert "3m 25s" in page  # duration
    assert page.count('data-testid="finding"') == 3


def test_findings_sorted_by_severity_and_carry_remediation() -> None:
    page = render(realistic())
    severities = re.findall(r'data-testid="finding" data-rule="[^"]*" data-severity="(\w+)"', page)
    assert severities == ["critical", "low", "info"]
    assert "Compare the Origin against an exact allow-list" in page
    assert "starlette" in page and "CORSMiddleware" in page
    assert "Evidence not in this report: ev-missing" in page


def test_partial_banner_is_loud_and_first() -> None:
    page = render(realistic(partial=True, errors=True))
    tags = parse(page)
    assert "partial-banner" in tags.ids
    assert page.index('id="partial-banner"') < page.index('id="verdict"')
    assert "PARTIAL RUN" in page
    assert "tool-errors" in tags.ids
    assert "webkit could not start" in page
    assert "not finished" in page
    assert "(PARTIAL)" in page[: page.index("</title>")]


def test_clean_run_verdict() -> None:
    page = render(clean_run())
    assert "No exploitable CORS issue found" in page
    assert 'data-verdict="clean"' in page
    assert "No findings." in page


def test_matrix_marks_attacker_reads_and_groups_legitimate_first() -> None:
    page = render(realistic())
    m1 = page[page.index('id="matrix-1"') : page.index("</table>", page.index('id="matrix-1"'))]
    assert 'data-attacker-read="true"' in m1
    assert "READABLE" in m1
    # Both cookie policies present -> a policy header row.
    assert "cookies: default" in m1 and "cookies: permissive" in m1
    assert "credentials: omit" in m1 and "credentials: include" in m1
    groups = re.findall(r'<th class="group"[^>]*>([^<(]+)', m1)
    assert groups[0].strip() == "legitimate"
    assert {"arbitrary", "null-sandbox", "post-domain"} <= {g.strip() for g in groups}
    for outcome in ("readable", "blocked", "not-producible", "error"):
        assert f'data-outcome="{outcome}"' in m1
    assert "via sandbox-srcdoc" in m1
    # Each row has one cell per engine x policy x credentials column (2 x 2 x 2).
    rows = re.findall(r"<tr data-role=.*?</tr>", m1, re.S)
    assert rows and all(r.count('class="cell ') == 8 for r in rows)


def test_comparison_table_shows_disagreements() -> None:
    page = render(realistic())
    table = page[page.index('id="comparison-table"') :]
    table = table[: table.index("</table>")]
    assert "vulnerable (critical): ACAO * + ACAC" in table
    assert 'data-kind="header-false-positive"' in table
    assert 'data-disagree="true"' in table
    # The header-only "null" conclusion is compared with what the probes did.
    assert "ACAO: null accepted" in table
    assert "every engine blocked the read (the browser said: ACAO missing)" in table
    # The reflected origin: both call it a vulnerability, linked to its finding.
    assert '<a href="#finding-1">' in table


def test_evidence_curl_reproductions_round_trip() -> None:
    tags = parse(render(realistic()))
    curls = [c for c in tags.code if c.startswith("curl ")]
    pre = shlex.split(curls[0])
    assert pre[:5] == ["curl", "-i", "-X", "OPTIONS", ME]
    assert "Origin: https://evil.example" in pre
    assert "Access-Control-Request-Method: GET" in pre
    assert "Access-Control-Request-Headers: authorization" in pre
    assert not any(h.lower().startswith("host:") for h in pre)
    actual = shlex.split(curls[1])
    assert actual[:3] == ["curl", "-i", ME]
    # Redacted secrets become placeholders; corsproof's own marker never shows.
    assert "Cookie: session=<value of cookie session>" in actual
    assert "Authorization: <value of Authorization>" in actual
    assert "[REDACTED]" not in " ".join(curls)


def test_generated_attacker_pages_shown_as_text() -> None:
    page = report_html.render_probes(realistic())
    assert "&lt;script&gt;fetch(" in page
    assert "orphan-page" in page and "attacker-pages" in page
    assert "&lt;body onload=" in page


def test_hostile_payloads_are_escaped() -> None:
    page = render(hostile())
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert html.escape(XSS, quote=False) in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "javascript:alert(1)" in page  # as text only; no attribute holds it
    assert "]]&gt;" in page or html.escape(CDATA) in page
    assert "\\x1b[31m" in page  # controls made visible
    assert "partial-banner" in parse(page).ids
    # curl for the hostile exchange survives shell quoting exactly (controls shown escaped).
    curls = [c for c in parse(page).code if c.startswith("curl ")]
    args = shlex.split(curls[0])
    evil = next(a for a in args if a.startswith("X-Evil: "))
    assert evil.startswith("X-Evil: '; rm -rf / #" + ATTR)
    # Attribute payloads never break out of their attribute.
    for _tag, attrs in parse(page).tags:
        assert set(attrs) <= {
            "id",
            "class",
            "data-testid",
            "data-verdict",
            "data-kind",
            "data-count",
            "data-engine",
            "data-exploitable",
            "data-disagree",
            "data-role",
            "data-outcome",
            "data-attacker-read",
            "data-category",
            "data-standing",
            "data-readers",
            "data-in-findings",
            "title",
            "data-target",
            "data-rule",
            "data-severity",
            "colspan",
            "rowspan",
            "href",
            "lang",
            "charset",
            "name",
            "content",
            "http-equiv",
            "role",
            "aria-label",
            "open",
        }
        # ``open`` is a bare boolean attribute: no value a payload could sit in.
        assert attrs.get("open", None) in (None, "")


def test_curl_helpers_quote_and_skip_transport_headers() -> None:
    ex = {
        "method": "POST",
        "url": "https://t.example/a b?x=1;echo",
        "request_headers": [
            ["Host", "t.example"],
            ["Origin", "https://o.example"],
            ["X-Q", "it's $(id)"],
        ],
    }
    cmd = curl_actual(ex)
    assert cmd is not None
    assert shlex.split(cmd) == [
        "curl",
        "-i",
        "-X",
        "POST",
        "https://t.example/a b?x=1;echo",
        "-H",
        "Origin: https://o.example",
        "-H",
        "X-Q: it's $(id)",
    ]
    pre = curl_preflight(ex)
    assert pre is not None and shlex.split(pre)[2:4] == ["-X", "OPTIONS"]
    assert curl_actual(None) is None and curl_preflight({"url": ""}) is None


def test_print_css_expands_details_and_avoids_row_breaks() -> None:
    page = render(realistic())
    media = page[page.index("@media print") :]
    assert "details::details-content" in media
    assert "break-inside: avoid" in media


def test_baseline_changes_rendered() -> None:
    page = render(realistic())
    assert 'id="baseline"' in page
    assert "Changes since the baseline run" in page


def test_render_tolerates_a_minimal_dict() -> None:
    page = render({"run_id": "x", "partial": False})
    assert "No exploitable CORS issue found" in page
    assert EVIL not in page


def test_large_report_is_capped_and_says_what_was_left_out() -> None:
    report = big_report()
    total = len(report["probes"])
    assert total == 20_000
    page = render(report)
    assert len(page.encode("utf-8")) < 3_000_000, len(page)
    probes = report_html.render_probes(report)
    assert len(probes.encode("utf-8")) < 3_000_000, len(probes)
    log = probes
    rows = log.count('<tr><td class="id mono">')
    assert rows == report_html.MAX_LOG_PROBES
    # 3,300 attacker reads + 1 legit... every notable probe is counted, the rest named.
    assert f"{total - rows:,} more probes are in report.json" in log
    assert f"{rows:,} of {total:,} probes" in log
    assert "routine probe(s)" in log
    # Evidence: only the first few exchange records per finding, the rest counted.
    first = page[page.index('id="finding-1"') :]
    first = first[: first.index("</article>")]
    assert first.count('class="small exchange"') == report_html.MAX_EVIDENCE
    more = 20 - report_html.MAX_EVIDENCE  # 20 evidence records per finding
    assert f"{more} more exchange record(s) of this finding are in report.json" in first
    # Matrix: one row per distinct result pattern, not one per origin.
    m1 = page[page.index('id="matrix-1"') :]
    m1 = m1[: m1.index("</table>")]
    assert m1.count("<tr data-role=") < 30
    assert "origins, same results" in m1


def test_small_report_logs_every_notable_probe_uncapped() -> None:
    report = realistic()
    log = report_html.render_probes(report)
    assert "capped at" not in log
    for p in report["probes"]:
        notable = (
            (p["role"] == "attacker" and p["outcome"] == "readable")
            or (p["role"] == "legitimate" and p["outcome"] != "readable")
            or p["outcome"] in ("error", "not-producible")
        )
        if notable:
            assert f'<tr><td class="id mono">{p["id"]}</td>' in log, p["id"]


def test_each_target_says_the_policy_it_really_implements_and_the_declared_one() -> None:
    report = realistic()
    report["declared_policies"] = {ME: "only https://app.example.test, with credentials"}
    page = render(report)
    row = page[page.index(f'<tr data-target="{ME}"') :]
    row = row[: row.index("</tr>")]
    # Only the reflected origin read (a class outside the catalogue, named as given),
    # and only Chromium's default profile sent the cookie with it.
    said = "trusts the arbitrary origins; the victim&#39;s cookie travels cross-site in Chromium"
    assert said in row
    assert "Declared: only https://app.example.test, with credentials" in row
    assert 'data-readers="1" data-in-findings="1"' in page
    public = page[page.index(f'<tr data-target="{PUBLIC}"') :]
    assert "answers every origin &#39;*&#39; without credentials" in public[: public.index("</tr>")]


def test_finding_detail_is_a_definition_list_with_the_engines_own_words() -> None:
    report = realistic()
    f = next(f for f in report["findings"] if f["rule"] == "reflected-origin-credentials")
    f["detail"] = (
        "Origins that could read: https://evil.example (arbitrary).\n"
        "In a default browser: chromium: read the victim's data with the cookie.\n"
        "Exploitable in a default browser: from any website in chromium."
    )
    # A second probe Firefox refused for the same reason (an XHR twin of p027).
    refused = next(p for p in report["probes"] if p["id"] == "p027")
    report["probes"].append({**refused, "id": "p027x", "api": "xhr"})
    page = render(report)
    art = page[page.index('id="finding-1"') :]
    art = art[: art.index("</article>")]
    pairs = re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", art)
    assert (
        "In a default browser",
        "chromium: read the victim&#39;s data with the cookie.",
    ) in pairs
    assert ("Exploitable in a default browser", "from any website in chromium.") in pairs
    assert "Origins that could read" not in art  # the Origins line already lists them
    # Firefox refused the credentialed read: its own reason, once, with how often.
    assert "<b>Firefox</b> (2 probes): <code>cookie not sent: 401 without ACAO</code>" in art


def test_repeated_story_cells_are_collapsed_into_one_row_per_story() -> None:
    report = big_report(2, 60)
    page = render(report)
    table = page[page.index('id="comparison-table"') :]
    table = table[: table.index("</section>")]  # the disagreements and the folded agreements
    # 9 attacker origins per target read the same way: one row lists them, the browser
    # side is said once.
    assert table.count("read only an anonymous answer (HTTP 200) in Chromium and Firefox") == 0
    for target in report["targets"]:
        body = table[table.index(f'<tbody data-target="{target}"') :]
        body = body[: body.index("</tbody>")]
        rows = re.findall(r"<tr class=\"(?:agree|disagree)\".*?</tr>", body, re.S)
        said = [re.findall(r"<td>([^<]*)</td>", r)[1] for r in rows]
        assert len(said) == len(set(said)), said


def test_main_report_links_the_probe_log_instead_of_holding_it() -> None:
    report = big_report()
    page = render(report)
    assert '<a href="probes.html">probes.html</a>' in page
    assert "probe-log-note" not in page and 'class="id mono"' not in page
    assert report_html.extra_files(report).keys() == {"probes.html"}


def test_a_legitimate_probe_that_errored_is_no_block_in_the_policy_line() -> None:
    """An error has no verdict: the policy line must not call it the app being blocked."""
    report = realistic()
    legit = [
        p
        for p in report["probes"]
        if p["target"] == ME and p["role"] == "legitimate" and p["engine"] == "chromium"
    ]
    assert legit and all(p["outcome"] == "readable" for p in legit)

    def row_after(**change: object) -> str:
        for p in legit:
            p.update(readable=False, status=None, body_length=None, **change)
        page = render(report)
        row = page[page.index(f'<tr data-target="{ME}"') :]
        return row[: row.index("</tr>")]

    assert "blocks the app" not in row_after(outcome="error", error="timeout: no response")
    blocked = row_after(outcome="blocked", error=None, block_reason="MissingAllowOriginHeader")
    assert "blocks the app&#39;s own origin in some requests" in blocked
