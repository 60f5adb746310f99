"""Browser discovery: concrete executables, and one clear line when an engine is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import browsers
from harness.browsers import EngineMissing, parse_firefox_cors_error, resolve
from harness.config import EngineChoice
from harness.models import Engine


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
    monkeypatch.setattr(browsers, "_minibrowser", lambda: None)
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
