"""The victim's session set up the ways real teams have it: --login-url, --storage-state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import needs_chromium, only_classes

from harness.cli import build_parser, config_from_args
from harness.pipeline import run_sync
from harness.serve.lab import Lab

pytestmark = [pytest.mark.browser]

TARGET = "https://api.example.com/reflect/private"
ATTACKER = "https://corsproof-attacker.test"


def run(lab: Lab, out: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    ns = build_parser().parse_args(
        [
            "verify",
            "--target",
            TARGET,
            "--allow-origin",
            "https://app.example.com",
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--per-class",
            "1",
            "--out",
            str(out),
            "--run-id",
            "s",
            "--format",
            "json",
            "--quiet",
            *only_classes(),
            *extra,
        ]
    )
    return run_sync(config_from_args(ns), lab=lab).to_dict()


def stolen(data: dict) -> list[dict]:  # type: ignore[type-arg]
    return [
        p
        for p in data["probes"]
        if p["origin"] == ATTACKER and p["credentials"] == "include" and p["shape"] == "simple-get"
    ]


@needs_chromium
def test_login_url_lets_the_app_set_its_own_cookie(tmp_path: Path) -> None:
    lab = Lab()
    data = run(lab, tmp_path, "--login-url", "https://api.example.com/login")
    probes = stolen(data)
    assert probes and all(p["readable"] and p["status"] == 200 and p["cookie_sent"] for p in probes)
    assert any(e.path == "/login" for e in lab.log())


@needs_chromium
def test_storage_state_file(tmp_path: Path) -> None:
    lab = Lab()
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {
                "cookies": [
                    {
                        "name": "lab_session",
                        "value": lab.session_value,
                        "domain": "api.example.com",
                        "path": "/",
                        "expires": -1,
                        "httpOnly": True,
                        "secure": True,
                        "sameSite": "None",
                    }
                ],
                "origins": [],
            }
        )
    )
    data = run(lab, tmp_path, "--storage-state", str(state))
    probes = stolen(data)
    assert probes and all(p["status"] == 200 and p["cookie_sent"] for p in probes)
    text = (tmp_path / "s").exists() and json.dumps(data)
    assert lab.session_value not in str(text)


@needs_chromium
def test_without_a_session_the_attacker_reads_only_the_login_error(tmp_path: Path) -> None:
    lab = Lab()
    data = run(lab, tmp_path, "--cookie", "other=unrelated-value")
    probes = stolen(data)
    assert probes and all(p["readable"] and p["status"] == 401 for p in probes)
