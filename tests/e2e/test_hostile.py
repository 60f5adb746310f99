"""corsproof against targets that answer badly, slowly, hugely, maliciously or not at all.

Each case asserts four things: verify ends within its budget (a hang guard, not a
speed test), report.json is written, every affected probe is ``error`` with its
cause named or ``blocked`` with a reason where the server did answer, and nothing
the target sent reaches report.html unescaped. Cases that need no separate
process share one verify run (several ``--target`` values), to keep the file fast.
"""

from __future__ import annotations

import io
import json
import re
import resource
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import HAVE_CHROMIUM, needs_chromium, needs_firefox
from hostile import (
    LEGIT,
    PAYLOADS,
    STATE_CHANGING,
    UNESCAPED_MARKERS,
    HostileServer,
    bad_tls_context,
    redirect_cross_url,
)

from harness.cli import main
from harness.serve.proxy import ForwardProxy

QUICK = [
    x
    for c in (
        "post-domain",
        "pre-domain",
        "unescaped-dot",
        "substring",
        "sibling-subdomain",
        "deeper-subdomain",
        "scheme-downgrade",
        "other-port",
        "localhost",
        "user-content",
        "special-char",
    )
    for x in ("--disable-class", c)
]
"""Only legitimate + unrelated + null (three ways): about 25 probes per target."""

HANG_GUARD = 30.0
"""Seconds a run may exceed its --budget before we call it hung (startup, reports)."""


@dataclass
class Run:
    """One verify run: exit code, stderr, wall time, and what it wrote."""

    code: int
    err: str
    seconds: float
    budget: float
    out: Path
    rss_growth_mb: float
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.out / "h"

    def probes(self, path: str, **match: Any) -> list[dict[str, Any]]:
        """Probes on targets whose path starts with ``path``, filtered by field values."""
        found = []
        for p in self.data.get("probes", []):
            target_path = "/" + p["target"].split("/", 3)[-1]
            if not target_path.startswith(path):
                continue
            if all(p.get(k) == v for k, v in match.items()):
                found.append(p)
        return found


def verify(
    out: Path,
    targets: Sequence[str],
    *extra: str,
    timeout: float = 3.0,
    budget: float = 60.0,
    insecure: bool = True,
    browser: str = "chromium",
) -> Run:
    """Run verify in-process with the quick origin set; never raises on a bad exit."""
    argv = [
        "verify",
        *(x for t in targets for x in ("--target", t)),
        "--allow-origin",
        LEGIT,
        "--browser",
        browser,
        "--cookie-policy",
        "default",
        "--out",
        str(out),
        "--run-id",
        "h",
        "--format",
        "json,html",
        "--timeout",
        str(timeout),
        "--budget",
        str(budget),
        *(["--insecure"] if insecure else []),
        "--quiet",  # stderr then holds only warnings and errors: the "one line" checks
        *QUICK,
        *extra,
    ]
    err = io.StringIO()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    code = main(argv, out=io.StringIO(), err=err)
    seconds = time.monotonic() - t0
    # ru_maxrss is in KiB on Linux; it is a peak, so growth bounds what this run added.
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    run = Run(code, err.getvalue(), seconds, budget, out, growth)
    report = run.run_dir / "report.json"
    if report.exists():
        run.data = json.loads(report.read_text("utf-8"))
    print(f"verify {[t.rsplit('/', 1)[-1] for t in targets]}: exit {code} in {seconds:.1f}s")
    return run


def assert_finished(run: Run) -> None:
    """The hang guard and the report-written check every case shares."""
    assert run.seconds < run.budget + HANG_GUARD, f"verify took {run.seconds:.0f}s"
    assert (run.run_dir / "report.json").is_file(), run.err
    assert run.data["probes"], "report.json has no probes"


def assert_html_clean(run: Run) -> None:
    """Nothing the target sent appears unescaped in report.html or probes.html."""
    for name in ("report.html", "probes.html"):
        html = (run.run_dir / name).read_text("utf-8")
        for marker in UNESCAPED_MARKERS:
            assert marker not in html, f"unescaped target text in {name}: {marker!r}"
        for payload in PAYLOADS:
            assert payload not in html


def assert_blocked_with_reason(probes: list[dict[str, Any]]) -> None:
    assert probes
    for p in probes:
        assert p["outcome"] == "blocked", (p["error"], p["api"], p["credentials"], p["origin"])
        assert p["block_reason"], p


# --------------------------------------------------------------------- shared runs


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    """Two hostile servers: the second is the far end of the cross-origin redirect."""
    with HostileServer() as a, HostileServer() as b:
        yield a, b


@pytest.fixture(scope="module")
def bad_run(
    servers: tuple[HostileServer, HostileServer], tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """Targets that answer badly: hang, slow, mid-body close, loops, redirects, HTTP/1.0."""
    if not HAVE_CHROMIUM:
        pytest.skip("chromium is not installed")
    a, b = servers
    targets = [
        a.url("/hang"),
        a.url("/slow"),
        a.url("/midclose"),
        a.url("/loop"),
        redirect_cross_url(a, b),
        b.url("/ok"),  # the redirect's far end must be a target, or the proxy refuses it
        a.url("/http10"),
    ]
    return verify(tmp_path_factory.mktemp("bad"), targets, timeout=2.0, budget=90.0)


@pytest.fixture(scope="module")
def big_run(
    servers: tuple[HostileServer, HostileServer], tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """Targets that answer too much or malformed: 100 MB, endless, bad CORS headers, XSS."""
    if not HAVE_CHROMIUM:
        pytest.skip("chromium is not installed")
    a, _ = servers
    paths = [
        "/huge",
        "/endless",
        "/dup-acao",
        "/true-caps",
        "/acao-space",
        "/acao-upper",
        "/acao-list",
        "/xss",
        "/xss-acao",
    ]
    before = a.bytes_sent
    run = verify(tmp_path_factory.mktemp("big"), [a.url(p) for p in paths], budget=60.0)
    run.data["_streamed"] = a.bytes_sent - before
    return run


# --------------------------------------------------------------------- answers badly


@pytest.mark.browser
@needs_chromium
def test_hang_and_slow_are_timeouts(bad_run: Run) -> None:
    assert_finished(bad_run)
    assert bad_run.code in (0, 1), bad_run.err
    for path in ("/hang", "/slow"):
        probes = bad_run.probes(path)
        assert probes
        for p in probes:
            assert p["outcome"] == "error", p
            assert "timeout" in p["error"], p


@pytest.mark.browser
@needs_chromium
def test_close_mid_body_is_an_error_for_the_readers(bad_run: Run) -> None:
    assert_finished(bad_run)
    legit = bad_run.probes("/midclose", origin=LEGIT)
    assert legit
    # fetch() resolves on the headers, then the body breaks off: an error naming the body.
    fetched = [p for p in legit if p["api"] == "fetch"]
    assert fetched
    for p in fetched:
        assert p["outcome"] == "error", p
        assert "body" in p["error"], p
    # XHR may see the failure before readyState 2; it must at least never read.
    # (Under load corsproof then calls it "blocked"; see the report on classify.py.)
    assert not [p for p in legit if p["outcome"] == "readable"]
    # Attackers were refused on the headers, which did arrive: blocked, with a reason.
    assert_blocked_with_reason([p for p in bad_run.probes("/midclose") if p["role"] == "attacker"])


@pytest.mark.browser
@needs_chromium
def test_redirect_loop_is_never_readable(bad_run: Run) -> None:
    assert_finished(bad_run)
    probes = bad_run.probes("/loop")
    assert probes
    assert not [p for p in probes if p["outcome"] == "readable"]


@pytest.mark.browser
@needs_chromium
def test_redirect_loop_is_an_error_naming_redirects(bad_run: Run) -> None:
    probes = bad_run.probes("/loop")
    assert probes
    for p in probes:
        if p["preflighted"]:
            # A preflight may not be redirected at all: the browser stops at the first
            # hop, as a CORS failure or a network error; either way it says why.
            assert p["outcome"] in ("blocked", "error"), p
            assert p["block_reason"] or p["error"], p
        else:
            assert p["outcome"] == "error", p
            assert "redirect" in (p["error"] or "").lower(), p


@pytest.mark.browser
@needs_chromium
def test_cross_origin_redirect_taints_origin_to_null(
    bad_run: Run, servers: tuple[HostileServer, HostileServer]
) -> None:
    assert_finished(bad_run)
    _, b = servers
    # Server-side truth: after the cross-origin hop the browsers sent Origin: null,
    # even from the legitimate page.
    browser_hits = [s for s in b.seen("/ok") if "corsproof (" in s.user_agent]
    assert browser_hits
    assert "null" in {s.origin for s in browser_hits}
    # /ok trusts only the legitimate origin, so after the taint nobody can read it.
    assert_blocked_with_reason(bad_run.probes("/redir-cross"))


@pytest.mark.browser
@needs_chromium
def test_http10_target(bad_run: Run) -> None:
    assert_finished(bad_run)
    legit = bad_run.probes("/http10", origin=LEGIT)
    assert legit and all(p["outcome"] == "readable" for p in legit), legit
    assert_blocked_with_reason([p for p in bad_run.probes("/http10") if p["role"] == "attacker"])


@pytest.mark.browser
@needs_chromium
def test_no_state_changing_method_without_unsafe(
    bad_run: Run, big_run: Run, servers: tuple[HostileServer, HostileServer]
) -> None:
    assert_finished(bad_run)
    assert_finished(big_run)
    for server in servers:
        assert server.log
        assert not server.methods() & STATE_CHANGING, server.methods()
    assert any("--unsafe" in n for n in bad_run.data["notes"])


@pytest.mark.browser
@needs_chromium
def test_bad_run_report_html_is_clean(bad_run: Run) -> None:
    assert_finished(bad_run)
    assert_html_clean(bad_run)


# --------------------------------------------------------------------- connection reset


@pytest.fixture(scope="module")
def reset_run(
    servers: tuple[HostileServer, HostileServer], tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """A target that resets every connection (SO_LINGER 0), with a healthy one beside it."""
    if not HAVE_CHROMIUM:
        pytest.skip("chromium is not installed")
    a, b = servers
    targets = [a.url("/reset"), b.url("/ok")]
    return verify(tmp_path_factory.mktemp("reset"), targets, timeout=2.0, budget=60.0)


@pytest.mark.browser
@needs_chromium
def test_reset_finishes_and_writes_report(reset_run: Run) -> None:
    assert reset_run.seconds < reset_run.budget + HANG_GUARD
    assert (reset_run.run_dir / "report.json").is_file(), reset_run.err
    # A target that answers badly is judged per probe; the healthy one beside it runs.
    assert reset_run.code in (0, 1), reset_run.err


@pytest.mark.browser
@needs_chromium
def test_reset_is_a_per_probe_error_naming_the_reset(reset_run: Run) -> None:
    assert reset_run.code in (0, 1), reset_run.err
    probes = reset_run.probes("/reset")
    assert probes
    for p in probes:
        assert p["outcome"] == "error", p
        # Chromium names a reset right after accept ERR_EMPTY_RESPONSE, Firefox a
        # NetworkError; the server side (the replay) names the reset itself.
        text = p["error"].lower()
        assert "reset" in text or "err_empty_response" in text or "err_connection" in text, p
    assert reset_run.probes("/ok", origin=LEGIT, outcome="readable")


# --------------------------------------------------------------------- too much, malformed


@pytest.mark.browser
@needs_chromium
def test_huge_and_endless_bodies_stay_bounded(big_run: Run) -> None:
    assert_finished(big_run)
    assert big_run.code in (0, 1), big_run.err
    # The server really streamed (so the bound below means something) ...
    assert big_run.data["_streamed"] > 10 * 1024 * 1024
    # ... and neither the proxy nor the replay buffered it.
    assert big_run.rss_growth_mb < 300, f"ru_maxrss grew by {big_run.rss_growth_mb:.0f} MB"
    for path in ("/huge", "/endless"):
        legit = big_run.probes(path, origin=LEGIT)
        assert legit and all(p["outcome"] == "readable" for p in legit), legit
        # probe.js stops reading at 1 MiB.
        assert all((p["body_length"] or 0) <= 1024 * 1024 for p in legit)
        assert_blocked_with_reason([p for p in big_run.probes(path) if p["role"] == "attacker"])


STRICT_CASES = {
    "/dup-acao": "several values",
    "/acao-list": "several values",
    "/acao-upper": "does not match",
}
"""Grants a loose parser accepts and a browser refuses, with the reason corsproof gives."""


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("path", sorted(STRICT_CASES))
def test_malformed_grant_is_blocked_but_header_scan_calls_it_vulnerable(
    big_run: Run, path: str
) -> None:
    assert_finished(big_run)
    probes = big_run.probes(path)
    assert_blocked_with_reason(probes)
    assert all(STRICT_CASES[path] in p["block_reason"] for p in probes), probes
    header_only = {
        (h["target"].rsplit("/", 1)[-1], h["origin"]) for h in big_run.data["header_only"]
    }
    assert (path[1:], "https://corsproof-attacker.test") in header_only
    false_pos = [
        d
        for d in big_run.data["disagreements"]
        if d["target"].endswith(path) and d["kind"] == "header-false-positive"
    ]
    assert false_pos, big_run.data["disagreements"]
    assert not [
        f
        for f in big_run.data["findings"]
        if f["target"].endswith(path) and f["rule"] == "any-origin-read"
    ]


@pytest.mark.browser
@needs_chromium
def test_simple_probes_do_not_get_preflight_reasons(big_run: Run) -> None:
    simple_blocked = [
        p
        for p in big_run.data["probes"]
        if not p["preflighted"] and p["outcome"] == "blocked" and p["engine"] == "chromium"
    ]
    assert simple_blocked
    wrong = [p for p in simple_blocked if p["block_reason"].startswith("Preflight")]
    assert not wrong, [(p["target"], p["origin"], p["block_reason"][:60]) for p in wrong[:5]]


@pytest.mark.browser
@needs_chromium
def test_credentials_true_in_caps_blocks_only_credentialed_reads(big_run: Run) -> None:
    assert_finished(big_run)
    probes = big_run.probes("/true-caps")
    with_creds = [p for p in probes if p["credentials"] == "include"]
    without = [p for p in probes if p["credentials"] == "omit"]
    # Browsers need exactly `true`: every credentialed read is refused ...
    assert_blocked_with_reason(with_creds)
    assert all("'TRUE'" in p["block_reason"] for p in with_creds), with_creds
    # ... while an anonymous read only needs the (valid) origin grant.
    assert without and all(p["outcome"] == "readable" for p in without), without
    # The loose scanner reads TRUE as true and overstates it as critical.
    hits = [h for h in big_run.data["header_only"] if h["target"].endswith("/true-caps")]
    assert hits and all(h["severity"] == "critical" for h in hits)
    assert not [
        f
        for f in big_run.data["findings"]
        if f["target"].endswith("/true-caps") and f["severity"] == "critical"
    ]


@pytest.mark.browser
@needs_chromium
def test_trailing_space_in_acao_is_trimmed_by_browsers(big_run: Run) -> None:
    """Trailing whitespace is optional whitespace in HTTP: Chromium strips it and grants.

    So this is *not* a strict-parsing case: the grant works, and corsproof must say
    the attacker can read (a real finding), not call it blocked.
    """
    assert_finished(big_run)
    attacker = [p for p in big_run.probes("/acao-space") if p["role"] == "attacker"]
    assert attacker and all(p["outcome"] == "readable" for p in attacker), attacker
    assert [f for f in big_run.data["findings"] if f["target"].endswith("/acao-space")]


@pytest.mark.browser
@needs_chromium
def test_payloads_in_headers_and_body_stay_escaped(big_run: Run) -> None:
    assert_finished(big_run)
    html = (big_run.run_dir / "report.html").read_text("utf-8")
    # The payloads did reach the report (as evidence), so escaping was really tested.
    assert "&lt;script&gt;window.__pwned" in html
    assert_html_clean(big_run)
    assert re.search(r'<meta http-equiv="Content-Security-Policy" content="[^"]*default-src', html)
    # The payload ACAO is blocked, and the reason quotes it as text.
    assert_blocked_with_reason(big_run.probes("/xss-acao"))


@pytest.mark.browser
@needs_chromium
def test_report_html_runs_no_script_in_a_browser(big_run: Run) -> None:
    from playwright.sync_api import sync_playwright

    assert_finished(big_run)
    events: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()

            def on_dialog(dialog: Any) -> None:
                events.append(f"dialog: {dialog.message}")
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("console", lambda m: events.append(f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda e: events.append(f"pageerror: {e}"))
            pwned, csp = [], []
            for name in ("report.html", "probes.html"):
                page.goto((big_run.run_dir / name).as_uri(), wait_until="load")
                page.wait_for_timeout(300)
                pwned.append(page.evaluate("() => typeof window.__pwned"))
                csp.append(page.locator('meta[http-equiv="Content-Security-Policy"]').count())
        finally:
            browser.close()
    assert pwned == ["undefined", "undefined"]
    assert csp == [1, 1]
    # A CSP violation report in the console would mean a script tried to run.
    assert not [e for e in events if not e.startswith("console") or "pwned" in e], events
    assert not [e for e in events if "Content Security Policy" in e], events


@pytest.mark.browser
@needs_firefox
def test_firefox_is_as_strict_and_survives_bad_bodies(
    servers: tuple[HostileServer, HostileServer], tmp_path: Path
) -> None:
    """One Firefox run: strict grants blocked, a broken body an error, memory bounded."""
    a, _ = servers
    paths = ["/dup-acao", "/acao-list", "/true-caps", "/midclose", "/endless"]
    run = verify(tmp_path, [a.url(p) for p in paths], browser="firefox", budget=60.0)
    assert_finished(run)
    assert run.code in (0, 1), run.err
    assert run.rss_growth_mb < 300
    for path in ("/dup-acao", "/acao-list"):
        assert_blocked_with_reason(run.probes(path))
    assert_blocked_with_reason(run.probes("/true-caps", credentials="include"))
    for p in run.probes("/midclose", origin=LEGIT):
        assert p["outcome"] == "error", p
    endless = run.probes("/endless", origin=LEGIT)
    assert endless and all(p["outcome"] == "readable" for p in endless), endless
    assert_html_clean(run)


# --------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileServer]:
    with (
        bad_tls_context(tmp_path_factory.mktemp("tls")) as ctx,
        HostileServer(tls=ctx) as server,
    ):
        yield server


@pytest.mark.browser
@needs_chromium
def test_invalid_certificate_is_one_clear_line(tls_server: HostileServer, tmp_path: Path) -> None:
    run = verify(tmp_path, [tls_server.url("/ok")], insecure=False, budget=30.0)
    assert run.seconds < run.budget + HANG_GUARD
    assert run.code == 2
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert "certificate" in lines[0].lower() and "--insecure" in lines[0], lines[0]
    # The request never got past the handshake, so the server logged nothing.
    assert not tls_server.seen("/ok")


@pytest.mark.browser
@needs_chromium
def test_invalid_certificate_with_insecure_proceeds(
    tls_server: HostileServer, tmp_path: Path
) -> None:
    run = verify(tmp_path, [tls_server.url("/ok")], insecure=True, budget=30.0)
    assert_finished(run)
    assert run.code in (0, 1), run.err
    legit = run.probes("/ok", origin=LEGIT)
    assert legit and all(p["outcome"] == "readable" for p in legit), legit
    assert_blocked_with_reason([p for p in run.probes("/ok") if p["role"] == "attacker"])


# --------------------------------------------------------------------- proxy


def _raw(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send one raw request to 127.0.0.1:port and read the whole answer (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        total = 0
        while total < 1024 * 1024:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
            total += len(data)
            if request.startswith(b"CONNECT") and b"\r\n\r\n" in b"".join(chunks):
                break  # a tunnel stays open: the status line is all we want
    return b"".join(chunks)


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_proxy_is_not_an_open_relay() -> None:
    with HostileServer() as allowed, HostileServer() as other:
        proxy = ForwardProxy(routes={}, passthrough={("127.0.0.1", allowed.port)})
        proxy.start()
        try:
            op = other.port

            def refused(request: bytes) -> int:
                return _status(_raw(proxy.port, request))

            assert (
                refused(f"GET http://127.0.0.1:{op}/ok HTTP/1.1\r\nHost: x\r\n\r\n".encode()) == 403
            )
            assert refused(f"CONNECT 127.0.0.1:{op} HTTP/1.1\r\nHost: x\r\n\r\n".encode()) == 403
            # Tricks that put the allowed port somewhere in the line still go nowhere else.
            ap = allowed.port
            for trick in (
                f"GET http://127.0.0.1:{ap}@127.0.0.1:{op}/ok HTTP/1.1\r\n\r\n",
                f"GET http://localhost:{op}/ok HTTP/1.1\r\n\r\n",
                f"CONNECT 127.0.0.1:{op}#127.0.0.1:{ap} HTTP/1.1\r\n\r\n",
                f"GET /ok HTTP/1.1\r\nHost: 127.0.0.1:{op}\r\n\r\n",
            ):
                assert refused(trick.encode()) in (400, 403), trick
            assert not other.log, other.log
            # The configured target is forwarded, and answers.
            ok = _raw(
                proxy.port, f"GET http://127.0.0.1:{ap}/ok HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            assert _status(ok) == 200 and b'"ok":true' in ok, ok
            assert [s.path for s in allowed.log] == ["/ok"]
            assert proxy.stats.refused >= 2
        finally:
            proxy.stop()
