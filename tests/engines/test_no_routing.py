"""Probing browsers never use Playwright request routing.

With ``route`` active, Playwright answers CORS preflights itself, so a request the
server would refuse looks readable. The static check keeps routing out of the code;
the live check runs a real probe with ``route`` booby-trapped and shows that a
preflight the server refuses is reported blocked.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from conftest import needs_chromium, only_classes

from harness.cli import main

HARNESS = Path(__file__).resolve().parents[2] / "harness"
ROUTING = re.compile(r"\.(route|unroute|route_from_har|route_web_socket)\s*\(")


def test_no_routing_call_in_the_harness() -> None:
    offenders = [
        f"{path.name}:{n}"
        for path in HARNESS.rglob("*.py")
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if ROUTING.search(line)
    ]
    assert offenders == []


@pytest.mark.browser
@needs_chromium
def test_refused_preflight_is_blocked_and_route_never_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import BrowserContext, Page

    calls: list[str] = []

    async def trap(self: object, *args: object, **kwargs: object) -> None:
        calls.append(type(self).__name__)
        raise AssertionError("request routing in a probing browser")

    monkeypatch.setattr(BrowserContext, "route", trap)
    monkeypatch.setattr(Page, "route", trap)
    err = io.StringIO()
    code = main(
        [
            "verify",
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--per-class",
            "1",
            "--out",
            str(tmp_path),
            "--run-id",
            "nr",
            "--format",
            "json",
            "--quiet",
            *only_classes(),
        ],
        out=io.StringIO(),
        err=err,
    )
    assert code in (0, 1), err.getvalue()
    assert calls == []
    data = json.loads((tmp_path / "nr" / "report.json").read_text())
    refused = [
        p
        for p in data["probes"]
        if "/missing-allow-headers/" in p["target"]
        and p["shape"] == "preflight-json"
        and p["role"] == "legitimate"
    ]
    assert refused and all(p["outcome"] == "blocked" for p in refused)
    # Chromium's own reason, from the Network domain, is attached.
    assert all("Preflight" in (p["block_reason"] or "") for p in refused)
