"""Remote engines: a Playwright browser server for Chromium and Firefox, a WebDriver
endpoint for WebKit, both started locally here, against the lab.

The verdicts must be those of a local run, probe for probe: the remote path changes
where the browser runs, never what it does. The cookie facts are checked against the
lab's own request log (cookie names per request and engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import HAVE_CHROMIUM, HAVE_FIREFOX, HAVE_WEBKIT, LabRun, lab_run, only_classes

from harness.cli import build_parser, config_from_args, main
from harness.config import EngineChoice, is_loopback, parse_remote
from harness.engines import playwright as browsers
from harness.engines.paths import minibrowser, remote_executable
from harness.engines.playwright import SessionSetup, resolve
from harness.engines.webkit import webkit_session
from harness.engines.webkit.driver import Driver, LocalDriverFactory
from harness.engines.webkit.remote import RemoteDriverFactory
from harness.engines.webkit.session import COOKIE_PROFILE_NOTES, WebKitSession
from harness.model.errors import EXIT_TOOL_ERROR, ConfigError, LaunchError
from harness.model.results import CookiePolicy, Engine
from harness.serve.lab import Lab
from harness.serve.stack import Harness
from scenarios.plan import make_plan

ATTACKER = "https://corsproof-attacker.test"
LEGIT = "https://app.example.com"

needs_pw_browsers = pytest.mark.skipif(
    not (HAVE_CHROMIUM and HAVE_FIREFOX), reason="needs chromium and firefox-esr"
)
needs_webkit = pytest.mark.skipif(
    not (HAVE_WEBKIT and minibrowser()),
    reason="remote WebKit is tested through a local WebKitWebDriver endpoint, which needs "
    "/usr/bin/WebKitWebDriver, MiniBrowser and Xvfb (apt-get install webkit2gtk-driver xvfb)",
)


def config(*argv: str):  # type: ignore[no-untyped-def]
    return config_from_args(build_parser().parse_args(["verify", *argv]))


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the option ----------------------------------------------------------------


def test_remote_option_is_parsed_into_the_engine_choice() -> None:
    c = config(
        "--remote",
        "chromium=ws://browsers.internal:3000/",
        "--remote",
        "firefox=wss://browsers.internal/pw?executable=/opt/firefox/firefox&token=s3cr3t-token",
        "--remote",
        "webkit=http://grid.internal:4444/wd/hub?sessions=4",
    )
    by = {ch.engine: ch for ch in c.engines}
    chromium, firefox, webkit = by[Engine.CHROMIUM], by[Engine.FIREFOX], by[Engine.WEBKIT]
    assert chromium.remote and chromium.explicit
    assert (chromium.remote.url, remote_executable(chromium.remote)) == (
        "ws://browsers.internal:3000/",
        "/usr/bin/chromium",
    )
    assert webkit.remote and remote_executable(webkit.remote) == ""
    assert firefox.remote and firefox.remote.executable == "/opt/firefox/firefox"
    # corsproof's own parameter is removed; the server's are passed on.
    assert firefox.remote.url == "wss://browsers.internal/pw?token=s3cr3t-token"
    assert webkit.remote and (webkit.remote.url, webkit.remote.sessions) == (
        "http://grid.internal:4444/wd/hub",
        4,
    )
    # Tokens in the URL are secrets: redacted everywhere, absent from the summary.
    assert "s3cr3t-token" in c.secrets
    assert "s3cr3t-token" not in repr(c) and "s3cr3t-token" not in str(c.summary())
    assert c.summary()["remote"]["firefox"] == "wss://browsers.internal/pw"


def test_remote_engine_needs_no_local_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browsers.Path, "exists", lambda self: False)
    monkeypatch.setattr(browsers.shutil, "which", lambda name: None)
    resolved = resolve(
        EngineChoice(Engine.WEBKIT, explicit=True, remote=parse_remote("webkit=http://h:4444"))
    )
    assert resolved.source == "remote" and resolved.remote is not None
    assert "http://h:4444" in resolved.executable


def test_executable_can_be_left_to_the_server() -> None:
    remote = parse_remote("chromium=ws://h:3000/?executable=")
    assert remote.executable == "" and remote.url == "ws://h:3000/"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--remote", "chromium"], "ENGINE=URL"),
        (["--remote", "safari=http://h:4444"], "ENGINE=URL"),
        (["--remote", "chromium=http://h:3000/"], "ws://"),
        (["--remote", "firefox=h:3000"], "ws://"),
        (["--remote", "webkit=ws://h:4444"], "http://"),
        (["--remote", "webkit=http://h:99999"], "invalid port"),
        (["--remote", "webkit=http://h:4444?sessions=0"], "sessions"),
        (["--remote", "chromium=ws://h:3000/?executable=chrome"], "absolute path"),
        (["--remote", "chromium=ws://a:1/", "--remote", "chromium=ws://b:1/"], "given twice"),
        (["--browser", "firefox", "--remote", "chromium=ws://h:3000/"], "not among"),
        (["--browser", "chromium=/bin/sh", "--remote", "chromium=ws://h:3000/"], "conflicts"),
    ],
)
def test_bad_remote_is_one_line_and_exit_2(argv: list[str], needle: str) -> None:
    code, _out, err = run_cli("verify", *argv)
    assert code == EXIT_TOOL_ERROR
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corsproof: error: --remote"), err
    assert needle in lines[0]


def test_loopback_bind_with_a_distant_browser_warns() -> None:
    remote = ["--remote", "chromium=ws://browserhost:3000/"]
    [warning] = config(*remote).warnings()
    assert "browserhost" in warning and "--bind" in warning and "\n" not in warning
    assert config(*remote, "--bind", "0.0.0.0").warnings() == []
    assert config("--remote", "chromium=ws://127.0.0.1:3000/").warnings() == []
    assert config("--remote", "firefox=ws://localhost:3000/").warnings() == []
    assert config().warnings() == []


def test_wildcard_bind_gives_the_browser_an_address_it_can_reach() -> None:
    assert browsers.reachable_proxy_url("http://10.1.2.3:8080", "h") == "http://10.1.2.3:8080"
    assert browsers.reachable_proxy_url("http://0.0.0.0:8080", "::1") == "http://127.0.0.1:8080"
    try:
        # The local address on the route to a documentation address (RFC 5737).
        url = browsers.reachable_proxy_url("http://0.0.0.0:8080", "192.0.2.10")
    except LaunchError as exc:  # a machine without any route
        assert "192.0.2.10" in str(exc)
    else:
        assert url.endswith(":8080") and "0.0.0.0" not in url


def test_bind_exposes_the_proxy_and_nothing_else(tmp_path: Path) -> None:
    """With --bind 0.0.0.0 only the proxy listens on every interface.

    The page servers, the lab and the lab's plain-http relay listener are reached
    through the proxy in this process, so they stay on loopback.
    """
    lab = Lab()
    cfg = config("--bind", "0.0.0.0", "--out", str(tmp_path), "--browser", "chromium")
    harness = Harness(cfg, make_plan(cfg, lab.target_urls()), lab=lab)
    harness.start()
    try:
        assert harness.proxy.url.startswith("http://0.0.0.0:")
        servers = harness._servers
        names = sorted(s.name for s in servers)
        assert names == ["lab", "lab (relay)", "page server (http)", "page server (https)"]
        assert all(s.host == "127.0.0.1" for s in servers)
        try:
            outside = browsers.reachable_proxy_url("http://0.0.0.0:1", "192.0.2.10")
        except LaunchError:
            outside = "http://127.0.0.1:1"
        address = outside.split("//", 1)[1].rsplit(":", 1)[0]
        if is_loopback(address):
            pytest.skip("this machine has no non-loopback address")
        with socket.create_connection((address, harness.proxy.port), timeout=5):
            pass  # the proxy is reachable from the network ...
        for server in servers:
            with pytest.raises(ConnectionRefusedError):  # ... the page servers are not
                socket.create_connection((address, server.port), timeout=5).close()
    finally:
        harness.stop()


# -- Chromium and Firefox through `playwright run-server` ----------------------


def _start_run_server(*extra: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    server = [sys.executable, "-m", "playwright", "run-server", "--port", str(port)]
    proc = subprocess.Popen(
        [*server, "--host", "127.0.0.1", *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # `python -m playwright` runs the server as a child (node): stopping only the
        # Python process leaves the server running, so it gets a group of its own.
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "Listening on ws://127.0.0.1:PORT/"
    if "Listening on" not in line:
        _stop(proc)
        pytest.fail(f"playwright run-server did not start: {line!r}")
    return proc, f"ws://127.0.0.1:{port}/"


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop the server's whole process group (the Python wrapper and node)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # node outlives the wrapper by a moment
            except ProcessLookupError:
                break
            time.sleep(0.1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@pytest.fixture(scope="module")
def run_server() -> Iterator[str]:
    """`playwright run-server --unsafe` on a free loopback port, as on a browser machine."""
    proc, url = _start_run_server("--unsafe")
    try:
        yield url
    finally:
        _stop(proc)


def _outcomes(run: LabRun, engines: set[str]) -> dict[str, tuple[Any, ...]]:
    return {
        p["id"]: (p["outcome"], p["status"], p["readable"], p["cookie_sent"], p["page_origin"])
        for p in run.data["probes"]
        if p["engine"] in engines
    }


ARGS = ("--per-class", "1", *only_classes())


@pytest.fixture(scope="module")
def remote_pw(run_server: str, tmp_path_factory: pytest.TempPathFactory) -> LabRun:
    if not (HAVE_CHROMIUM and HAVE_FIREFOX):
        pytest.skip("needs chromium and firefox-esr")
    out = tmp_path_factory.mktemp("remote-pw")
    return lab_run(
        out,
        "--browser",
        "chromium,firefox",
        "--remote",
        f"chromium={run_server}",
        "--remote",
        f"firefox={run_server}",
        *ARGS,
    )


@pytest.mark.browser
@pytest.mark.slow
@needs_pw_browsers
def test_remote_chromium_and_firefox_match_a_local_run(remote_pw: LabRun, tmp_path: Path) -> None:
    assert remote_pw.data["errors"] == []
    browsers_ = {b["engine"]: b for b in remote_pw.data["browsers"]}
    assert set(browsers_) == {"chromium", "firefox"}
    for b in browsers_.values():
        assert b["source"] == "remote" and "ws://127.0.0.1:" in b["executable"]
        assert b["version"] and b["version"][0].isdigit()
    local = lab_run(tmp_path, "--browser", "chromium,firefox", *ARGS)
    remote, here = (
        _outcomes(remote_pw, {"chromium", "firefox"}),
        _outcomes(local, {"chromium", "firefox"}),
    )
    assert remote.keys() == here.keys() and remote
    differ = {k: (remote[k], here[k]) for k in remote if remote[k] != here[k]}
    assert differ == {}


@pytest.mark.browser
@pytest.mark.slow
@needs_pw_browsers
def test_remote_chromium_sends_third_party_cookies_like_default_chrome(remote_pw: LabRun) -> None:
    # A connected browser has no persistent profile; its new_context() blocked
    # third-party cookies until corsproof set the profile's cookie controls.
    stolen = remote_pw.probes(
        policy="reflect",
        origin=ATTACKER,
        engine="chromium",
        credentials="include",
        shape="simple-get",
        cookie_policy="default",
    )
    assert stolen and all(p["readable"] and p["status"] == 200 and p["cookie_sent"] for p in stolen)
    sent = {
        (e.user_agent.rsplit("corsproof (", 1)[-1], "lab_session" in e.cookies)
        for e in remote_pw.log
        if e.path == "/reflect/private" and e.origin == ATTACKER and "corsproof (" in e.user_agent
    }
    assert ("chromium-default)", True) in sent
    assert ("firefox-default)", True) not in sent  # Total Cookie Protection, as locally
    assert ("firefox-permissive)", True) in sent
    notes = " ".join(remote_pw.data["notes"])
    assert "third-party cookies allowed" in notes and "WARNING" not in notes


@pytest.mark.browser
@pytest.mark.slow
@needs_pw_browsers
def test_allowlist_is_readable_only_by_the_legitimate_origin_remotely(remote_pw: LabRun) -> None:
    for engine in ("chromium", "firefox"):
        legit = remote_pw.probes(policy="allowlist", origin=LEGIT, engine=engine)
        attacker = remote_pw.probes(policy="allowlist", origin=ATTACKER, engine=engine)
        assert legit and all(p["readable"] for p in legit if p["outcome"] != "not-producible")
        assert attacker and not any(p["readable"] for p in attacker)


@pytest.mark.browser
@needs_pw_browsers
def test_a_server_without_unsafe_is_refused_with_one_line(tmp_path: Path) -> None:
    proc, url = _start_run_server()
    try:
        t0 = time.monotonic()
        code, _, err = run_cli(
            "verify",
            "--out",
            str(tmp_path),
            "--format",
            "json",
            "--quiet",
            "--browser",
            "chromium",
            "--remote",
            f"chromium={url}",
            *ARGS,
        )
    finally:
        _stop(proc)
    assert code == EXIT_TOOL_ERROR
    lines = [ln for ln in err.splitlines() if ln.startswith("corsproof: error:")]
    assert len(lines) == 1 and "run-server --unsafe" in lines[0], err
    assert time.monotonic() - t0 < 60


@pytest.mark.browser
def test_an_unreachable_remote_is_exit_2_with_one_line(tmp_path: Path) -> None:
    dead = free_port()
    code, _, err = run_cli(
        "verify",
        "--out",
        str(tmp_path),
        "--format",
        "json",
        "--quiet",
        "--remote",
        f"chromium=ws://127.0.0.1:{dead}/",
        "--browser",
        "chromium",
        *ARGS,
    )
    assert code == EXIT_TOOL_ERROR
    lines = [ln for ln in err.splitlines() if ln.startswith("corsproof: error:")]
    assert len(lines) == 1, err
    assert f"chromium at ws://127.0.0.1:{dead}/" in lines[0] and "ECONNREFUSED" in lines[0]


# -- WebKit through a WebDriver endpoint ---------------------------------------


@pytest.fixture(scope="module")
def webdriver_endpoint() -> Iterator[str]:
    """WebKitWebDriver on a free port under its own Xvfb: a WebDriver endpoint like a Grid node."""
    if not (HAVE_WEBKIT and minibrowser()):
        pytest.skip("needs WebKitWebDriver, MiniBrowser and Xvfb")
    from harness.engines.webkit.session import DRIVER_ENV
    from harness.engines.webkit.xvfb import Xvfb

    port = free_port()
    with Xvfb() as xvfb:
        env = xvfb.env()
        env.update(DRIVER_ENV)
        proc = subprocess.Popen(
            [shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver", f"--port={port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group, so that the browsers it started end with it.
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.mark.browser
@pytest.mark.slow
@needs_webkit
def test_remote_webkit_matches_a_local_run(webdriver_endpoint: str, tmp_path: Path) -> None:
    remote = lab_run(
        tmp_path / "remote",
        "--browser",
        "webkit",
        "--remote",
        f"webkit={webdriver_endpoint}",
        *ARGS,
    )
    assert remote.data["errors"] == []
    [info] = remote.data["browsers"]
    assert info["source"] == "remote" and webdriver_endpoint in info["executable"]
    assert info["version"] and info["version"][0].isdigit()
    assert any("WebDriver endpoint" in n for n in remote.data["notes"])
    # ITP in the default profile: no cookie cross-site; the permissive profile sends it.
    for policy, cookie in (("default", False), ("permissive", True)):
        stolen = remote.probes(
            policy="reflect",
            origin=ATTACKER,
            credentials="include",
            shape="simple-get",
            cookie_policy=policy,
        )
        assert stolen and all(p["readable"] and p["cookie_sent"] is cookie for p in stolen)
    attacker = remote.probes(policy="allowlist", origin=ATTACKER)
    assert attacker and not any(p["readable"] for p in attacker)
    local = lab_run(tmp_path / "local", "--browser", "webkit", *ARGS)
    there, here = _outcomes(remote, {"webkit"}), _outcomes(local, {"webkit"})
    assert there.keys() == here.keys() and there
    assert {k: (there[k], here[k]) for k in there if there[k] != here[k]} == {}


class _FakeWebDriver:
    """Just enough of a Selenium WebDriver for the session's bookkeeping; no browser."""

    capabilities = {"browserVersion": "2.50.6"}

    def __init__(self, factory: _CountingFactory) -> None:
        self._factory = factory
        self.url = "about:blank"
        self.ended = False

    def get(self, url: str) -> None:
        self.url = url

    def set_page_load_timeout(self, seconds: float) -> None:
        pass

    def set_script_timeout(self, seconds: float) -> None:
        pass

    def execute_script(self, script: str, *args: Any) -> Any:
        if "navigator.userAgent" in script:
            return "Mozilla/5.0 AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0"
        if "__corsproof_stay = true" in script:
            return self.url
        parts = urlsplit(self.url)
        return [f"{parts.scheme}://{parts.netloc}", False, self.url]

    def execute_async_script(self, script: str, arg: Any) -> Any:
        return arg

    def get_cookies(self) -> list[dict[str, Any]]:
        return []

    def delete_all_cookies(self) -> None:
        pass

    def add_cookie(self, cookie: Mapping[str, Any]) -> None:
        pass

    def quit(self) -> None:
        # Quitting an ended session again is harmless in WebDriver; count it once.
        if not self.ended:
            self.ended = True
            self._factory.quit_one()


class _CountingFactory:
    """A DriverFactory whose drivers are fakes; counts how many are open at once."""

    needs_display = False
    binary_location = ""
    note = "WebKit ran on a counting factory."

    def __init__(self, max_sessions: int | None) -> None:
        self.max_sessions = max_sessions
        self.open = self.peak = 0
        self.envs: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def proxy_url(self, proxy_url: str) -> str:
        return proxy_url

    def launch(self, opts: Any, env: Mapping[str, str]) -> Driver:
        with self._lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
            self.envs.append(dict(env))
        return Driver(_FakeWebDriver(self), None)

    def quit_one(self) -> None:
        with self._lock:
            self.open -= 1


@pytest.mark.parametrize("limit", [1, 2, None])
def test_limited_sessions_queue_origins_on_slots(limit: int | None) -> None:
    """At most ``max_sessions`` WebDriver sessions at once; a slot is taken on first use."""
    factory = _CountingFactory(limit)
    resolved = browsers.ResolvedEngine(Engine.WEBKIT, "counting", "remote")
    setup = SessionSetup(proxy_url="http://127.0.0.1:9")
    session = WebKitSession(resolved, CookiePolicy.DEFAULT, setup, factory)

    async def use(page: Any, n: int) -> Any:
        try:
            origin = await page.navigate(f"https://o{n}.example.com/__corsproof/probe", 10)
            return origin, await page.evaluate("(x) => x", n, 10)
        finally:
            await page.close()

    async def go() -> list[Any]:
        await session.start()
        try:
            pages = [await session.open_origin() for _ in range(3)]
            # A slot never given back would leave the last origins waiting for ever.
            results = await asyncio.wait_for(
                asyncio.gather(*(use(p, n) for n, p in enumerate(pages))), 60
            )
            if limit is None:
                assert factory.peak == 3  # each origin its own browser, side by side
            else:
                assert 1 <= factory.peak <= limit
            unused = await session.open_origin()
            await unused.close()  # closed before use: takes no slot, launches nothing
            if limit is not None:
                with pytest.raises(LaunchError, match="closed before it was used"):
                    await unused.navigate("https://o.example.com/", 10)
            again = await asyncio.wait_for(use(await session.open_origin(), 9), 60)
        finally:
            await session.close()
        return [*results, again]

    results = asyncio.run(go())
    assert results == [(f"https://o{n}.example.com", n) for n in (0, 1, 2, 9)]
    assert factory.open == 0, "a browser was left running"
    # No local display for a browser elsewhere, and the factory's note in the report.
    assert all("DISPLAY" not in env for env in factory.envs)
    assert session.note == f"{COOKIE_PROFILE_NOTES[CookiePolicy.DEFAULT]} {factory.note}"


def test_the_remote_factory_describes_the_endpoint() -> None:
    remote = parse_remote("webkit=http://user:pw@grid.internal:4444/wd/hub?sessions=3&token=t0k3n")
    factory = RemoteDriverFactory(remote)
    assert (factory.needs_display, factory.max_sessions, factory.binary_location) == (
        False,
        3,
        "",
    )
    assert factory.note == "WebKit ran on the WebDriver endpoint http://grid.internal:4444/wd/hub."
    assert "t0k3n" not in factory.note and "pw" not in factory.note
    assert factory.proxy_url("http://10.1.2.3:8080") == "http://10.1.2.3:8080"
    setup = SessionSetup(proxy_url="http://127.0.0.1:9")
    there = webkit_session(
        resolve(EngineChoice(Engine.WEBKIT, explicit=True, remote=remote)),
        CookiePolicy.PERMISSIVE,
        setup,
    )
    assert isinstance(there.factory, RemoteDriverFactory)
    assert there.note == f"{COOKIE_PROFILE_NOTES[CookiePolicy.PERMISSIVE]} {factory.note}"
    # Without a remote, the session starts WebKitWebDriver here, in an Xvfb of its own.
    here = webkit_session(
        browsers.ResolvedEngine(Engine.WEBKIT, "/usr/bin/MiniBrowser", "system"),
        CookiePolicy.PERMISSIVE,
        setup,
    )
    assert isinstance(here.factory, LocalDriverFactory)
    assert (here.factory.needs_display, here.factory.max_sessions) == (True, None)
    assert here.factory.binary_location == "/usr/bin/MiniBrowser"
    assert here.factory.driver_path == "/usr/bin/WebKitWebDriver"
    assert here.note == COOKIE_PROFILE_NOTES[CookiePolicy.PERMISSIVE]


@pytest.mark.browser
def test_an_unreachable_webdriver_endpoint_is_exit_2_with_one_line(tmp_path: Path) -> None:
    dead = free_port()
    code, _, err = run_cli(
        "verify",
        "--out",
        str(tmp_path),
        "--format",
        "json",
        "--quiet",
        "--browser",
        "webkit",
        "--remote",
        f"webkit=http://127.0.0.1:{dead}",
        *ARGS,
    )
    assert code == EXIT_TOOL_ERROR
    lines = [ln for ln in err.splitlines() if ln.startswith("corsproof: error:")]
    assert len(lines) == 1, err
    assert f"webkit at http://127.0.0.1:{dead}: cannot connect" in lines[0]


def test_config_error_type() -> None:
    with pytest.raises(ConfigError):
        parse_remote("webkit=ftp://h")
