"""Browser discovery: concrete executables, and one clear line when an engine is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import browsers
from harness.browsers import EngineMissing, resolve
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
