"""Proofs of concept and curl lines: only what the user passed, placeholders named for it.

The pages are checked in a real Chromium: served on their origin, they read what a
reflecting server answers, and say "Blocked" where the server grants nothing.
"""

from __future__ import annotations

import functools
import http.server
import re
import shlex
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_chromium
from conftest_report import ATTR, XSS, realistic

from harness.report import html_page as report_html
from harness.report.poc import curl_lines, pick_probe, poc_page, secrets, serve_instructions

WIRE_ACTUAL = {
    "method": "GET",
    "url": "https://api.example.test/me",
    "source": "wire",
    "cookies": ["sid", "theme"],
    "authorization": True,
    "request_headers": [
        ["Host", "api.example.test"],
        ["Authorization", "[not recorded]"],
        ["User-Agent", "[not recorded]"],
        ["Origin", "https://evil.example"],
        ["Sec-Fetch-Site", "cross-site"],
        ["Cookie", "sid=…; theme=…"],
        ["X-Api-Key", "[not recorded]"],
    ],
}


def record(
    shape: str, actual: dict[str, Any], preflight: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "key": "k",
        "shape": shape,
        "credentials": "include",
        "actual": actual,
        "preflight": preflight,
    }


def test_no_credentials_passed_means_no_placeholder_and_no_redacted_marker() -> None:
    who = secrets({"cookies": [], "headers": []})
    actual = dict(WIRE_ACTUAL, cookies=[], authorization=False)
    actual["request_headers"] = [h for h in WIRE_ACTUAL["request_headers"] if h[0] != "Cookie"]
    (line,) = curl_lines(record("simple-get", actual), who)
    assert shlex.split(line) == [
        "curl",
        "-i",
        "https://api.example.test/me",
        "-H",
        "Origin: https://evil.example",
    ]
    assert "[REDACTED]" not in line and "[not recorded]" not in line and "<value" not in line


def test_placeholders_are_named_for_the_users_own_flags() -> None:
    who = secrets(
        {
            "cookies": ["sid", "theme"],
            "headers": ["Authorization", "X-Api-Key"],
            "session_sources": [
                "cookie theme from CORSPROOF_COOKIE",
                "header X-Api-Key from --header-env API_KEY",
            ],
        }
    )
    (line,) = curl_lines(record("token-get", WIRE_ACTUAL), who)
    args = shlex.split(line)
    assert "Authorization: <value of --header Authorization>" in args
    assert "X-Api-Key: <value of X-Api-Key in $API_KEY>" in args
    assert (
        "Cookie: sid=<value of --cookie sid>; theme=<value of theme in $CORSPROOF_COOKIE>" in args
    )
    assert not [a for a in args if "Sec-Fetch" in a or "User-Agent" in a or a.startswith("Host")]


def test_corsproofs_own_dummy_token_is_shown_as_it_was_sent() -> None:
    """The preflighted shape's Authorization is corsproof's dummy, never a user secret."""
    who = secrets({"headers": ["Authorization"]})
    pre = {
        "method": "OPTIONS",
        "url": "https://api.example.test/me",
        "request_headers": [
            ["Origin", "https://evil.example"],
            ["Access-Control-Request-Method", "POST"],
            ["Access-Control-Request-Headers", "authorization,content-type"],
            ["Accept", "[not recorded]"],
        ],
    }
    actual = dict(WIRE_ACTUAL, method="POST", cookies=[])
    actual["request_headers"] = [
        ["Authorization", "[not recorded]"],
        ["Content-Type", "application/json"],
        ["Origin", "https://evil.example"],
    ]
    pre_line, line = curl_lines(record("preflight-json", actual, pre), who)
    assert shlex.split(pre_line) == [
        "curl", "-i", "-X", "OPTIONS", "https://api.example.test/me",
        "-H", "Origin: https://evil.example",
        "-H", "Access-Control-Request-Method: POST",
        "-H", "Access-Control-Request-Headers: authorization,content-type",
    ]  # fmt: skip
    args = shlex.split(line)
    assert "Authorization: Bearer corsproof-probe" in args
    assert args[-2:] == ["--data-raw", '{"corsproof":"probe"}']


def test_connect_to_goes_where_the_run_went() -> None:
    who = secrets({"connect_to": ["api.example.test:443:10.0.0.5:8443", "other:443:x:1"]})
    (line,) = curl_lines(record("simple-get", dict(WIRE_ACTUAL, cookies=[])), who)
    assert shlex.split(line)[:4] == [
        "curl",
        "-i",
        "--connect-to",
        "api.example.test:443:10.0.0.5:8443",
    ]


def test_lab_cookie_says_where_it_came_from() -> None:
    (line,) = curl_lines(record("simple-get", WIRE_ACTUAL), secrets({"lab": True}))
    assert "Cookie: sid=<value of cookie sid, set by the lab login>" in shlex.split(line)[-1:][
        0
    ] or ("sid=<value of cookie sid, set by the lab login>" in line)


def test_curl_lines_never_carry_corsproofs_redaction_marker() -> None:
    """Even where the recorded exchange held a redacted secret, curl shows a placeholder."""
    page = report_html.render(realistic())
    curls = re.findall(r'<pre class="curl" data-testid="curl"><code>(.*?)</code></pre>', page)
    assert curls
    assert not [c for c in curls if "[REDACTED]" in c]
    assert "with a real credential" not in page


def test_poc_page_escapes_hostile_values() -> None:
    probe = {
        "target": f"https://t.example/</script>{XSS}?q={ATTR}",
        "origin": "https://evil.example",
        "method": "GET",
        "shape": "simple-get",
        "credentials": "include",
        "api": "fetch",
    }
    page = poc_page(probe, secrets({}))
    script = page[page.index("<script>") + len("<script>") : page.rindex("</script>")]
    assert "</script" not in script.lower() and "<" not in script
    assert "\\u003c/script\\u003e" in script
    null = poc_page(dict(probe, origin="null", api="xhr"), secrets({}))
    assert '<iframe sandbox="allow-scripts"' in null
    frame = null[null.index("srcdoc=") :]
    assert "<" not in frame.split(">", 1)[0].replace("<iframe", "")  # srcdoc is attribute-escaped
    assert "x.withCredentials = true;" in null


def test_serve_instructions_quote_the_host_and_fit_the_scheme() -> None:
    text, cmds = serve_instructions("https://app.example.com_.evil.test:8443")
    assert "https://app.example.com_.evil.test:8443" in text
    assert cmds[0] == "echo '127.0.0.1 app.example.com_.evil.test' | sudo tee -a /etc/hosts"
    assert any(c.startswith("openssl req -x509") for c in cmds)
    assert any("8443" in c and "ssl" in c and not c.startswith("sudo") for c in cmds)
    _, cmds = serve_instructions("http://localhost:3000")
    assert cmds[0] == "python3 -m http.server 3000 --bind 127.0.0.1"
    _, cmds = serve_instructions("http://x.example.com")
    assert cmds[1] == "sudo python3 -m http.server 80 --bind 127.0.0.1"
    hostile, _ = serve_instructions("https://a'b.example")
    _, cmds = serve_instructions("https://a'b.example")
    assert shlex.split(cmds[0])[1] == "127.0.0.1 a'b.example"
    del hostile


def test_pick_probe_prefers_the_victims_data_from_the_rules_own_class() -> None:
    base = {"outcome": "readable", "role": "attacker", "page_origin": "o", "origin": "o"}
    probes = [
        dict(base, id="a", origin_class="pre-domain", victim_data=True, cookie_sent=True),
        dict(base, id="b", origin_class="unrelated", victim_data=True, cookie_sent=True),
        dict(base, id="c", origin_class="unrelated", victim_data=False, cookie_sent=False),
        dict(base, id="d", role="legitimate", origin_class="legitimate", victim_data=True),
    ]
    picked = pick_probe(probes, "any-origin-read")
    assert picked is not None and picked["id"] == "b"
    assert pick_probe([probes[3]], "any-origin-read") is None


# --------------------------------------------------------------------------- in a browser


class _Reflect(http.server.BaseHTTPRequestHandler):
    """A target that reflects the Origin (with credentials) on /open, grants nothing on /shut."""

    def do_GET(self) -> None:
        body = b'{"secret":"poc-read-me"}'
        self.send_response(200)
        origin = self.headers.get("Origin")
        if self.path.startswith("/open") and origin:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: Any) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def target_port() -> Iterator[int]:
    yield from _serve(_Reflect)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize(
    ("origin_kind", "api", "path", "expect"),
    [
        ("page", "fetch", "/open", "poc-read-me"),
        ("page", "xhr", "/open", "poc-read-me"),
        ("null", "fetch", "/open", "poc-read-me"),
        ("page", "fetch", "/shut", "Blocked"),
    ],
)
def test_poc_page_reads_in_chromium_where_the_server_grants_it(
    chromium: Any,
    target_port: int,
    tmp_path: Path,
    origin_kind: str,
    api: str,
    path: str,
    expect: str,
) -> None:
    # The page's own origin is http://localhost:<port>, a different origin from the
    # target on 127.0.0.1: a real cross-origin read.
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    for page_port in _serve(handler):
        origin = f"http://localhost:{page_port}" if origin_kind == "page" else "null"
        probe = {
            "target": f"http://127.0.0.1:{target_port}{path}",
            "origin": origin,
            "method": "GET",
            "shape": "simple-get",
            "credentials": "include",
            "api": api,
        }
        (tmp_path / "poc.html").write_text(poc_page(probe, secrets({})), "utf-8")
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(f"http://localhost:{page_port}/poc.html")
            frame = page.frames[-1] if origin == "null" else page.main_frame
            frame.wait_for_function(
                "() => !document.getElementById('out').textContent.includes('requesting')",
                timeout=10_000,
            )
            text = frame.locator("#out").inner_text()
            seen = frame.evaluate("() => location.origin") if origin == "null" else origin
        finally:
            context.close()
        assert expect in text, text
        if expect != "Blocked":
            assert text.startswith("HTTP 200")
        assert seen == origin
