"""Browser discovery: concrete executables, and one clear line when an engine is missing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from harness.config import EngineChoice
from harness.engines import paths as system_browsers
from harness.engines import playwright as browsers
from harness.engines.playwright import parse_firefox_cors_error, resolve
from harness.model.errors import EngineMissing
from harness.model.results import Engine


def test_explicit_path_wins(tmp_path: Path) -> None:
    fake = tmp_path / "chrome"
    fake.write_text("")
    resolved = resolve(EngineChoice(Engine.CHROMIUM, str(fake), explicit=True))
    assert (resolved.executable, resolved.source) == (str(fake), "explicit")


@pytest.mark.parametrize("engine", list(Engine))
def test_missing_engine_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    monkeypatch.setattr(browsers.Path, "exists", lambda self: False)
    monkeypatch.setattr(browsers.shutil, "which", lambda name: None)
    monkeypatch.setattr(system_browsers, "minibrowser", lambda: None)
    monkeypatch.setattr(browsers, "_playwright_executable", lambda e: None)
    with pytest.raises(EngineMissing) as exc:
        resolve(EngineChoice(engine))
    message = str(exc.value)
    assert "\n" not in message and engine.value in message
    assert "apt-get install" in message and "playwright install" in message


def test_system_browsers_are_found_when_installed() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("chromium is not installed")
    resolved = resolve(EngineChoice(Engine.CHROMIUM))
    assert resolved.source == "system" and resolved.executable.endswith("chromium")


L, R = "\u2018", "\u2019"  # Firefox quotes header names with these

FIREFOX_MESSAGE = (
    "The Same Origin Policy disallows reading the remote resource at "
    "https://api.example.com/allowlist/private#corsproof={id}. (Reason: {reason}). "
    "Status code: {status}."
)


@pytest.mark.parametrize(
    ("reason", "status", "expected"),
    [
        (
            f"CORS header {L}Access-Control-Allow-Origin{R} missing",
            "401",
            f"CORS header {L}Access-Control-Allow-Origin{R} missing; status 401",
        ),
        ("CORS request did not succeed", "(null)", "CORS request did not succeed"),
        (
            f"CORS header {L}Access-Control-Allow-Origin{R} does not match {L}<b>{R}",
            "200",
            f"CORS header {L}Access-Control-Allow-Origin{R} does not match {L}<b>{R}; status 200",
        ),
    ],
)
def test_firefox_cors_error_maps_to_its_probe(reason: str, status: str, expected: str) -> None:
    text = FIREFOX_MESSAGE.format(
        id="p-1a2b3c4d5e-simple-get-include-fetch", reason=reason, status=status
    )
    assert parse_firefox_cors_error(text) == ("p-1a2b3c4d5e-simple-get-include-fetch", expected)


@pytest.mark.parametrize(
    "text",
    [
        "ReferenceError: x is not defined",
        # not one of our probes: no fragment
        "The Same Origin Policy disallows reading the remote resource at "
        "https://api.example.com/x. (Reason: CORS header missing).",
        # a fragment that is not a probe id
        FIREFOX_MESSAGE.format(id="p-1 <b>", reason="x", status="1"),
    ],
)
def test_firefox_other_page_errors_are_ignored(text: str) -> None:
    assert parse_firefox_cors_error(text) is None


# -- --browser-source -------------------------------------------------------------

SNAP_WRAPPER = '#!/bin/sh\n# transitional package\nexec /snap/bin/chromium "$@"\n'


def test_snap_shims_are_recognised(tmp_path: Path) -> None:
    wrapper = tmp_path / "chromium-browser"
    wrapper.write_text(SNAP_WRAPPER)
    link = tmp_path / "firefox"
    link.symlink_to("/snap/bin/firefox")
    real = tmp_path / "chromium"
    real.write_text('#!/bin/sh\nexec /usr/lib/chromium/chromium "$@"\n')
    assert system_browsers.snap_shim(str(wrapper)) and system_browsers.snap_shim(str(link))
    assert not system_browsers.snap_shim(str(real))


def test_a_snap_shim_is_skipped_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapper = tmp_path / "chromium-browser"
    wrapper.write_text(SNAP_WRAPPER)
    monkeypatch.setitem(system_browsers.SYSTEM_BINARIES, "chromium", (str(wrapper),))
    path, why = system_browsers.find("chromium")
    assert path is None and "only starts a snap" in why
    # Under auto, Playwright's build is picked instead, and the report says why.
    monkeypatch.setattr(browsers, "_playwright_executable", lambda e: "/pw/chrome-linux/chrome")
    resolved = resolve(EngineChoice(Engine.CHROMIUM))
    assert resolved.source == "playwright" and resolved.executable == "/pw/chrome-linux/chrome"
    assert "only starts a snap" in resolved.why and "Playwright's own build" in resolved.why
    with pytest.raises(EngineMissing, match="only starts a snap"):
        resolve(EngineChoice(Engine.CHROMIUM), "system")


def test_playwright_source_never_takes_the_system_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browsers, "_playwright_executable", lambda e: None)
    with pytest.raises(EngineMissing) as exc:
        resolve(EngineChoice(Engine.CHROMIUM), "playwright")
    assert "python -m playwright install --with-deps chromium" in str(exc.value)
    monkeypatch.setattr(browsers, "_playwright_executable", lambda e: f"/pw/{e.value}")
    resolved = resolve(EngineChoice(Engine.FIREFOX), "playwright")
    assert (resolved.source, resolved.executable) == ("playwright", "/pw/firefox")
    assert resolved.why.startswith("--browser-source playwright")


@pytest.mark.skipif(system_browsers.find("chromium")[0] is None, reason="no system chromium")
def test_auto_and_system_prefer_a_usable_system_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browsers, "_playwright_executable", lambda e: "/pw/chrome")
    for source in ("auto", "system"):
        resolved = resolve(EngineChoice(Engine.CHROMIUM), source)
        assert resolved.source == "system", source
        assert resolved.why == f"--browser-source {source}: the system build at /usr/bin/chromium"


def test_explicit_path_and_remote_ignore_the_source(tmp_path: Path) -> None:
    fake = tmp_path / "chrome"
    fake.write_text("")
    resolved = resolve(EngineChoice(Engine.CHROMIUM, str(fake), explicit=True), "playwright")
    assert resolved.source == "explicit"


def test_the_runner_resolves_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API (which finds its builds) refuses to run inside an event loop.

    Called from the runner's loop it failed, so Playwright-managed browsers were never
    found; the runner now resolves in a thread, and notes which build it took and why.
    """
    import asyncio

    from harness.cli import build_parser, config_from_args
    from harness.run.events import BrowserChosen, Event
    from harness.run.runner import Runner

    def managed(engine: Engine) -> str:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            raise AssertionError("the sync API would refuse to run here")
        return f"/pw/{engine.value}"

    monkeypatch.setattr(browsers, "_playwright_executable", managed)
    config = config_from_args(
        build_parser().parse_args(
            ["verify", "--browser", "firefox", "--browser-source", "playwright"]
        )
    )
    events: list[Event] = []
    runner = Runner(config, sink=events.append)
    (resolved,) = asyncio.run(runner._resolve_engines())
    assert (resolved.source, resolved.executable) == ("playwright", "/pw/firefox")
    assert runner.session_notes == [
        "Browser source: firefox: --browser-source playwright (/pw/firefox)."
    ]
    assert [e.message for e in events if isinstance(e, BrowserChosen)] == [
        "firefox: --browser-source playwright (/pw/firefox)"
    ]
