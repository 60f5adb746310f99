"""cors.verify's run configuration, and the engine hook that hands the suite's launch
options to corsproof's launch (no browser: Playwright is a fake here)."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserType

from harness.config import CONNECT_ENDPOINT, LAUNCH_OPTIONS_HEADER, EngineChoice
from harness.engines.playwright import (
    UNSAFE_PROBE_PATH,
    PlaywrightSession,
    SessionSetup,
    resolve,
)
from harness.model.errors import ConfigError
from harness.model.results import CookiePolicy, Engine
from harness.pytest_plugin.launch import SuiteLaunch
from harness.pytest_plugin.session import CorsproofHarness
from harness.pytest_plugin.verify import Settings, Suite, marker_defaults, verify_config

LAB = "https://api.example.com/reflect/private"
API = "https://api.example.org/me"


def config(target: str = LAB, **kw: Any) -> Any:
    choice = Suite("chromium").choice(SuiteLaunch())
    return verify_config(target, choice, Settings(), run_id="r", label="t.py::t", **kw)


def test_a_lab_endpoint_is_a_lab_run_in_the_suites_engine_only() -> None:
    cfg, lab = config(per_class=1)
    assert lab and cfg.lab and cfg.targets == (LAB,)
    assert [c.engine for c in cfg.engines] == [Engine.CHROMIUM]
    assert cfg.engines[0].explicit and cfg.engines[0].adjust is not None
    assert cfg.per_class == 1
    assert [o.serialize() for o in cfg.legit_origins] == ["https://app.example.com"]
    assert cfg.policy is None  # no allow= given: nothing declared


def test_allow_declares_the_only_readers_of_that_endpoint() -> None:
    cfg, lab = config(API, allow=["https://app.example.org"], cookie=["sid=s3cret-value"])
    assert not lab and not cfg.lab
    assert cfg.policy is not None and cfg.policy.source == "t.py::t"
    assert cfg.policy.readers(API) == ("https://app.example.org",)
    assert cfg.policy.readers("https://api.example.org/other") is None
    assert "s3cret-value" in cfg.secrets


def test_shapes_are_the_frontends_calls_on_that_endpoint() -> None:
    cfg, _ = config(
        API,
        shapes=["PUT X-CSRF-Token application/json", {"method": "GET", "headers": ["X-Api-Key"]}],
    )
    shapes = {s.name: s for target, s in cfg.extra_shapes if target == API}
    put = shapes["call:PUT /me with X-CSRF-Token"]
    assert put.method == "GET" and put.safe_substitute  # no unsafe=True: a safe stand-in
    assert ("X-CSRF-Token", "corsproof-probe") in put.headers
    assert "call:GET /me with X-Api-Key" in shapes
    unsafe, _ = config(API, shapes=["PUT X-CSRF-Token application/json"], unsafe=True)
    assert unsafe.extra_shapes[0][1].method == "PUT"


def test_bad_input_is_the_clis_one_line_error() -> None:
    with pytest.raises(ConfigError, match="--allow-origin"):
        config(API, allow=["not an origin"])
    with pytest.raises(ConfigError, match="--target"):
        config("ftp://x/")


def test_the_suites_browser_becomes_the_engine_choice() -> None:
    local = Suite("firefox", {"executable_path": "/opt/ff/firefox"}).choice(SuiteLaunch())
    assert local.engine is Engine.FIREFOX and local.path == "/opt/ff/firefox"
    remote = Suite("chromium", {}, {"ws_endpoint": "ws://grid:3000/"}).choice(SuiteLaunch())
    assert remote.remote is not None and remote.remote.url == "ws://grid:3000/"
    renamed = Suite("chromium", {}, {"endpoint": "ws://grid:3001/"}).choice(SuiteLaunch())
    assert renamed.remote is not None and renamed.remote.url == "ws://grid:3001/"
    assert remote.remote.executable == ""  # the server's own browser
    assert Suite("chromium", {"a": 1}).key() != Suite("chromium", {"a": 2}).key()


def test_the_closest_marker_wins() -> None:
    class Mark:
        def __init__(self, **kw: Any) -> None:
            self.kwargs = kw

    got = marker_defaults([Mark(allow=["https://a.test"]), Mark(allow=["x"], per_class=2)])
    assert got == {"allow": ["https://a.test"], "per_class": 2}


def test_each_run_gets_a_folder_of_its_own(tmp_path: Path) -> None:
    harness = CorsproofHarness(tmp_path)
    first = harness.run_dir("test_a.py::test_x[chromium]", "chromium")
    again = harness.run_dir("test_a.py::test_x[chromium]", "chromium")
    assert first is not None and again is not None
    assert first.name == "test_a.py-test_x-chromium" and again.name.endswith("-2")
    assert harness.run_dir("corsproof.toml", "firefox").name == "corsproof.toml-firefox"
    assert CorsproofHarness(None).run_dir("x", "chromium") is None


# ----------------------------------------------------------- the engine layer's hook


class FakeType:
    """A Playwright BrowserType that records what it was asked to launch."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def launch_persistent_context(self, _profile: str, **kw: Any) -> Any:
        self.calls.append(("persistent", kw))
        return type("Ctx", (), {"browser": object(), "close": self._none})()

    async def launch(self, **kw: Any) -> Any:
        self.calls.append(("launch", kw))
        return object()

    async def connect(self, *args: Any, **kw: Any) -> Any:
        # The installed Playwright's own signature: a renamed keyword fails here as it
        # would against a real browser server (1.63 renamed ws_endpoint to endpoint).
        inspect.signature(BrowserType.connect).bind(self, *args, **kw)
        self.calls.append(("connect", kw))
        options = json.loads(kw["headers"][LAUNCH_OPTIONS_HEADER])
        if options.get("executablePath") == UNSAFE_PROBE_PATH:
            raise RuntimeError(f"Connection.init: no such file {UNSAFE_PROBE_PATH}")
        return object()

    async def _none(self) -> None:
        return None


class FakePlaywright:
    def __init__(self) -> None:
        self.chromium = FakeType("chromium")
        self.firefox = FakeType("firefox")


def session(choice: EngineChoice, tmp_path: Path) -> tuple[PlaywrightSession, FakePlaywright]:
    fake = tmp_path / "browser"
    fake.write_text("")
    if choice.remote is None:
        choice = EngineChoice(choice.engine, str(fake), True, adjust=choice.adjust)
    pw = FakePlaywright()
    resolved = resolve(choice)
    assert resolved.adjust is choice.adjust
    return PlaywrightSession(pw, resolved, CookiePolicy.DEFAULT, SessionSetup()), pw


def test_chromium_launches_with_the_suites_options_merged(tmp_path: Path) -> None:
    adjust = SuiteLaunch({"headless": False, "args": ["--lang=de", "--disable-web-security"]})
    pws, pw = session(Suite("chromium").choice(adjust), tmp_path)
    asyncio.run(pws._launch())
    ((how, kw),) = pw.chromium.calls
    assert how == "persistent"
    assert kw["headless"] is False
    assert "--lang=de" in kw["args"] and "--disable-web-security" not in kw["args"]
    assert "--no-sandbox" in kw["args"]
    assert adjust.conflicts() and "--disable-web-security" in adjust.conflicts()[0]
    asyncio.run(pws.close())


def test_firefox_prefs_merge_and_ours_win(tmp_path: Path) -> None:
    adjust = SuiteLaunch({"firefox_user_prefs": {"intl.accept_languages": "de"}})
    pws, pw = session(Suite("firefox").choice(adjust), tmp_path)
    asyncio.run(pws._launch())
    ((_, kw),) = pw.firefox.calls
    assert kw["firefox_user_prefs"]["intl.accept_languages"] == "de"
    assert kw["firefox_user_prefs"]["dom.security.https_first"] is False
    assert kw["channel"] == "moz-firefox"


def test_the_endpoint_keyword_is_the_installed_playwrights() -> None:
    first = list(inspect.signature(BrowserType.connect).parameters)[1]
    assert first == CONNECT_ENDPOINT


def test_a_browser_server_gets_the_merged_options_and_the_suites_headers(tmp_path: Path) -> None:
    connect = {"ws_endpoint": "ws://127.0.0.1:3000/", "headers": {"X-Token": "t"}}
    adjust = SuiteLaunch({"slow_mo": 5}, connect)
    pws, pw = session(Suite("firefox", {}, connect).choice(adjust), tmp_path)
    asyncio.run(pws._launch())
    probe, real = pw.firefox.calls
    assert probe[1]["headers"]["X-Token"] == "t"  # the --unsafe check reaches it too
    kw = real[1]
    assert kw[CONNECT_ENDPOINT] == "ws://127.0.0.1:3000/"
    assert kw["headers"]["X-Token"] == "t"
    options = json.loads(kw["headers"][LAUNCH_OPTIONS_HEADER])
    assert options["slowMo"] == 5 and options["headless"] is True
    assert "dom.security.https_first" in options["firefoxUserPrefs"]
    assert "executablePath" not in options  # the server's own build
