"""The assertion helpers of cors.verify's result and their failure text (result.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from builders import observation

from harness.model.results import (
    Accepted,
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Finding,
    HttpExchange,
    Observation,
    Outcome,
    Role,
    RunReport,
    Severity,
    Via,
)
from harness.pytest_plugin.result import CorsResult, describe, session_read

TARGET = "https://api.example.com/reflect/private"
APP = "https://app.example.com"
EVIL = "https://evil.example"


def answer(key: str, origin: str, status: int = 200, **cors: str) -> Evidence:
    headers = tuple((k.replace("_", "-"), v) for k, v in cors.items())
    actual = HttpExchange("GET", TARGET, (("Origin", origin),), status, headers, source="wire")
    return Evidence(key, TARGET, origin, "simple-get", Credentials.INCLUDE, None, actual)


def probe(origin: str, **kw: Any) -> Observation:
    fields: dict[str, Any] = dict(
        id=f"{origin}-{kw.get('shape', 'simple-get')}-{kw.get('cookie_policy', 'default')}",
        target=TARGET,
        origin=origin,
        origin_class="unrelated",
        via=Via.PAGE,
        page_origin=origin,
        evidence=f"ev:{origin}",
        wire_status=200,
        cookie_sent=True,
    )
    fields.update(kw)
    return observation(**fields)


def legit(**kw: Any) -> Observation:
    return probe(APP, role=Role.LEGITIMATE, origin_class="legitimate", **kw)


def result(
    probes: list[Observation],
    findings: tuple[Finding, ...] = (),
    evidence: tuple[Evidence, ...] = (),
    report_dir: Path | None = None,
    **report: Any,
) -> CorsResult:
    run = RunReport(
        run_id="t",
        started="2026-01-01T00:00:00Z",
        finished=None,
        targets=(TARGET,),
        browsers=(),
        probes=tuple(probes),
        findings=findings,
        evidence=evidence,
        **report,
    )
    return CorsResult(run, TARGET, "chromium", allow=(APP,), report_dir=report_dir)


def failure(check: Any, *args: Any, **kw: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        check(*args, **kw)
    return str(caught.value)


READS = [
    legit(),
    probe(EVIL),
    probe(EVIL, shape="preflight-json", method="POST", preflighted=True),
]
EVIDENCE = (
    answer(
        f"ev:{EVIL}",
        EVIL,
        access_control_allow_origin=EVIL,
        access_control_allow_credentials="true",
        vary="Origin",
    ),
)


def test_a_session_read_needs_credentials_and_the_session_seen_going() -> None:
    assert session_read(probe(EVIL))
    assert not session_read(probe(EVIL, credentials=Credentials.OMIT))
    assert not session_read(probe(EVIL, cookie_sent=False))
    assert session_read(probe(EVIL, cookie_sent=None, victim_data=True))
    assert not session_read(probe(EVIL, outcome=Outcome.BLOCKED))


def test_only_readable_by_passes_when_exactly_those_read() -> None:
    res = result([legit(), probe(EVIL, outcome=Outcome.BLOCKED)])
    res.assert_only_readable_by(APP)
    assert res.readers() == (APP,)


def test_an_extra_reader_is_a_plus_line_with_engine_cookie_and_the_servers_answer() -> None:
    text = failure(result(READS, evidence=EVIDENCE).assert_only_readable_by, APP)
    lines = text.splitlines()
    assert lines[0] == (
        f"corsproof: {TARGET} in chromium: readable with the victim's session by 2 origin(s), "
        f"expected only {APP}"
    )
    assert lines[1] == (
        f"+ {EVIL} (unrelated) read it in chromium (default profile): fetch GET (simple-get) "
        "with credentials; cookie sent: yes (seen at the wire); server answered 200 with "
        f"access-control-allow-origin: {EVIL}, access-control-allow-credentials: true "
        "(and 1 more such probe(s))"
    )
    assert lines[-1].startswith("  (+ read it but is not expected")
    assert APP not in "".join(lines[1:-1])


def test_an_expected_reader_that_could_not_read_is_a_minus_line_saying_why() -> None:
    blocked = legit(
        outcome=Outcome.BLOCKED,
        block_reason="MissingAllowOriginHeader",
        cookie_sent=False,
        cookie_note="SameSite=Lax withheld it",
        wire_status=401,
    )
    text = failure(result([blocked]).assert_only_readable_by, APP)
    assert f"- {APP} (legitimate) was blocked (MissingAllowOriginHeader) in chromium" in text
    assert "cookie sent: no (SameSite=Lax withheld it)" in text
    assert "server answered 401, no CORS headers" in text


def test_an_origin_that_was_not_probed_says_how_to_probe_it() -> None:
    text = failure(result([legit()]).assert_only_readable_by, APP, "https://admin.example.com")
    assert "- https://admin.example.com: not probed: add it to allow=[...]" in text


def test_reads_without_the_session_count_only_when_asked() -> None:
    anonymous = probe(EVIL, credentials=Credentials.OMIT)
    res = result([legit(), anonymous])
    res.assert_only_readable_by(APP)
    text = failure(res.assert_only_readable_by, APP, with_session=False)
    assert "readable at all by 2 origin(s)" in text
    assert "without credentials; no credentials asked for" in text


def test_nothing_measured_never_passes_and_shows_the_tool_error(tmp_path: Path) -> None:
    from harness.model.results import ToolError

    lost = legit(outcome=Outcome.ERROR, error="browser did not start")
    res = result(
        [lost], errors=(ToolError("launch", "chromium failed to start"),), report_dir=tmp_path
    )
    for check in (res.assert_only_readable_by, res.assert_no_findings, res.assert_legit_works):
        text = failure(check)
        assert "nothing was measured" in text
        assert "tool error: chromium failed to start" in text
        assert f"report: {tmp_path / 'report.html'}" in text


def finding(rule: str, severity: Severity, **kw: Any) -> Finding:
    fields: dict[str, Any] = dict(
        rule=rule,
        severity=severity,
        title=f"{rule} title",
        target=TARGET,
        origins=(EVIL,),
        engines=(Engine.CHROMIUM,),
        probes=(READS[1].id,),
    )
    fields.update(kw)
    return Finding(**fields)


def test_no_findings_lists_each_one_with_the_probe_behind_it() -> None:
    findings = (
        finding("any-origin-read", Severity.CRITICAL),
        finding("max-age-missing", Severity.LOW),
        finding("null-origin", Severity.HIGH, accepted=Accepted("SEC-1: public data")),
    )
    res = result(READS, findings=findings, evidence=EVIDENCE)
    text = failure(res.assert_no_findings)
    lines = text.splitlines()
    assert lines[0] == f"corsproof: {TARGET} in chromium: 1 finding(s) at or above high"
    assert lines[1] == f"- [critical] any-origin-read: any-origin-read title ({EVIL})"
    assert lines[2].startswith(f"    {EVIL} (unrelated) read it in chromium (default profile)")
    assert "(1 accepted finding(s) not counted)" in text
    assert "max-age-missing" not in text
    assert "max-age-missing" in failure(res.assert_no_findings, at_least=Severity.LOW)


def test_no_findings_passes_with_only_accepted_or_milder_ones() -> None:
    findings = (
        finding("max-age-missing", Severity.LOW),
        finding("any-origin-read", Severity.CRITICAL, accepted=Accepted("reviewed")),
    )
    result(READS, findings=findings).assert_no_findings(at_least="high")
    with pytest.raises(ValueError):
        result(READS).assert_no_findings(at_least="severe")


def test_legit_works_lists_every_failing_profile_of_the_frontend() -> None:
    ok = legit()
    refused = legit(
        cookie_policy=CookiePolicy.PERMISSIVE,
        engine=Engine.FIREFOX,
        shape="preflight-json",
        method="POST",
        preflighted=True,
        outcome=Outcome.BLOCKED,
        block_reason="CORS preflight did not succeed",
        cookie_sent=None,
        wire_status=None,
        evidence=None,
    )
    no_cookie = legit(id="nc", cookie_sent=False, cookie_note="third-party cookie blocked")
    res = result([ok, refused, no_cookie])
    text = failure(res.assert_legit_works)
    lines = text.splitlines()
    assert lines[0] == (
        f"corsproof: {TARGET} in chromium: the legitimate frontend failed in 2 of 3 probe(s)"
    )
    assert any(
        "was blocked (CORS preflight did not succeed) in firefox (permissive" in x for x in lines
    )
    assert any("cookie sent: no (third-party cookie blocked)" in x for x in lines)
    assert "server answered nothing (no request reached it)" in text
    result([ok]).assert_legit_works()


def test_legit_works_needs_a_legitimate_origin() -> None:
    text = failure(result([probe(EVIL)]).assert_legit_works)
    assert "no legitimate origin was probed (give allow=[...])" in text


def test_describe_names_how_an_opaque_origin_was_made() -> None:
    null = observation(target=TARGET, cookie_sent=True, wire_status=200)
    assert describe(null, {}).startswith(
        "null (null, via sandbox-srcdoc) read it in chromium (default profile)"
    )


def test_failure_text_is_redacted() -> None:
    withheld = legit(outcome=Outcome.BLOCKED, cookie_sent=False, cookie_note="secret-value-123")
    run = result([withheld]).report
    res = CorsResult(run, TARGET, "chromium", redact=lambda s: s.replace("secret-value-123", "[R]"))
    text = failure(res.assert_only_readable_by, APP)
    assert "secret-value-123" not in text
    assert "cookie sent: no ([R])" in text
