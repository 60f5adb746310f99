"""A test suite's launch options merged into corsproof's (harness/pytest_plugin/launch.py)."""

from __future__ import annotations

import pytest

from harness.config import CONNECT_ENDPOINT, LAUNCH_OPTIONS_HEADER
from harness.engines.playwright import FIREFOX_PREFS, chromium_args
from harness.model.results import Engine
from harness.pytest_plugin.launch import (
    SuiteLaunch,
    merge_chromium_args,
    merge_connect,
    merge_firefox_prefs,
    merge_launch,
)

OURS_CHROMIUM = {
    "headless": True,
    "args": chromium_args(shared=True),
    "executable_path": "/usr/bin/chromium",
}
OURS_FIREFOX = {
    "headless": True,
    "firefox_user_prefs": dict(FIREFOX_PREFS),
    "channel": "moz-firefox",
    "executable_path": "/usr/bin/firefox-esr",
}


def disabled(args: list[str]) -> list[str]:
    found = [a for a in args if a.startswith("--disable-features=")]
    assert len(found) == 1, "Chromium honours only the last --disable-features"
    return found[0].split("=", 1)[1].split(",")


def test_nothing_given_changes_nothing() -> None:
    merged = merge_launch(Engine.CHROMIUM, OURS_CHROMIUM, {})
    assert merged.options == OURS_CHROMIUM
    assert merged.conflicts == ()


def test_headed_slow_mo_and_env_are_the_suites() -> None:
    theirs = {"headless": False, "slow_mo": 50, "env": {"TZ": "UTC"}, "timeout": 90000}
    merged = merge_launch(Engine.CHROMIUM, OURS_CHROMIUM, theirs)
    assert merged.options["headless"] is False
    assert merged.options["slow_mo"] == 50
    assert merged.options["env"] == {"TZ": "UTC"}
    assert merged.options["timeout"] == 90000
    assert merged.conflicts == ()


def test_the_suites_args_follow_ours_and_disabled_features_join_our_one_switch() -> None:
    theirs = {"args": ["--lang=de", "--disable-features=Translate", "--no-sandbox"]}
    merged = merge_launch(Engine.CHROMIUM, OURS_CHROMIUM, theirs)
    args = merged.options["args"]
    ours = OURS_CHROMIUM["args"]
    assert args[: len(ours)] == [*ours[:-2], args[len(ours) - 2], ours[-1]]
    assert "--lang=de" in args
    assert args.count("--no-sandbox") == 1
    features = disabled(args)
    assert "Translate" in features
    assert set(disabled(OURS_CHROMIUM["args"])) <= set(features)
    assert merged.conflicts == ()


def test_a_feature_we_disable_cannot_be_enabled_and_the_rest_of_the_switch_stays() -> None:
    ours = disabled(OURS_CHROMIUM["args"])[0]
    args, conflicts = merge_chromium_args(
        OURS_CHROMIUM["args"], [f"--enable-features={ours},WebGPU"]
    )
    assert "--enable-features=WebGPU" in args
    assert ours in disabled(args)
    assert len(conflicts) == 1 and ours in conflicts[0] and "disabled" in conflicts[0]


def test_switches_that_would_falsify_the_measurement_are_refused_with_the_reason() -> None:
    theirs = [
        "--disable-web-security",
        "--user-data-dir=/tmp/mine",
        "--proxy-server=http://corp:3128",
        "--incognito",
    ]
    args, conflicts = merge_chromium_args(OURS_CHROMIUM["args"], theirs)
    assert args == OURS_CHROMIUM["args"]
    assert len(conflicts) == 4
    assert "same-origin policy" in conflicts[0]
    assert "third-party cookies" in conflicts[1]
    assert "corsproof's proxy" in conflicts[2]


def test_their_proxy_is_never_used() -> None:
    merged = merge_launch(Engine.FIREFOX, OURS_FIREFOX, {"proxy": {"server": "http://corp:3128"}})
    assert "proxy" not in merged.options
    assert merged.conflicts and "corsproof's proxy" in merged.conflicts[0]


def test_a_chromium_channel_picks_the_build_instead_of_our_executable() -> None:
    merged = merge_launch(Engine.CHROMIUM, OURS_CHROMIUM, {"channel": "chrome"})
    assert merged.options["channel"] == "chrome"
    assert "executable_path" not in merged.options
    assert merged.conflicts == ()


def test_a_firefox_build_needs_a_firefox_channel() -> None:
    kept = merge_launch(Engine.FIREFOX, OURS_FIREFOX, {"channel": "chrome"})
    assert kept.options["channel"] == "moz-firefox"
    assert kept.options["executable_path"] == "/usr/bin/firefox-esr"
    assert kept.conflicts and "not a Firefox channel" in kept.conflicts[0]
    beta = merge_launch(Engine.FIREFOX, OURS_FIREFOX, {"channel": "moz-firefox-beta"})
    assert beta.options["channel"] == "moz-firefox-beta"
    assert "executable_path" not in beta.options


def test_their_executable_path_is_used() -> None:
    merged = merge_launch(Engine.CHROMIUM, OURS_CHROMIUM, {"executable_path": "/opt/chrome"})
    assert merged.options["executable_path"] == "/opt/chrome"
    assert merged.conflicts == ()


def test_firefox_prefs_are_added_and_ours_win_a_conflict() -> None:
    theirs = {
        "intl.accept_languages": "de",
        "dom.security.https_first": True,
        "content.cors.disable": True,
        "network.proxy.type": 0,
    }
    prefs, conflicts = merge_firefox_prefs(OURS_FIREFOX["firefox_user_prefs"], theirs)
    assert prefs["intl.accept_languages"] == "de"
    assert prefs["dom.security.https_first"] is False
    assert "content.cors.disable" not in prefs and "network.proxy.type" not in prefs
    assert len(conflicts) == 3
    assert "dom.security.https_first=True is not used: corsproof sets False" in conflicts[0]
    assert "turns CORS off" in conflicts[1]


def test_firefox_prefs_mean_nothing_to_chromium() -> None:
    merged = merge_launch(Engine.CHROMIUM, OURS_CHROMIUM, {"firefox_user_prefs": {"a": 1}})
    assert "firefox_user_prefs" not in merged.options
    assert merged.conflicts == ()


def test_firefox_args_are_appended_once() -> None:
    ours = {**OURS_FIREFOX, "args": ["-foo"]}
    merged = merge_launch(Engine.FIREFOX, ours, {"args": ["-foo", "-bar"]})
    assert merged.options["args"] == ["-foo", "-bar"]


@pytest.mark.parametrize("spelling", ["endpoint", "ws_endpoint"])
def test_connect_keeps_our_launch_header_and_takes_their_others(spelling: str) -> None:
    ours = {
        CONNECT_ENDPOINT: "ws://grid:3000/",
        "headers": {LAUNCH_OPTIONS_HEADER: '{"headless": true}'},
        "timeout": 45000,
    }
    theirs = {
        spelling: "ws://elsewhere:3000/",
        "headers": {"Authorization": "Bearer t", "X-Playwright-Launch-Options": "{}"},
        "timeout": 120000,
        "expose_network": "<loopback>",
    }
    merged = merge_connect(ours, theirs)
    assert merged.options[CONNECT_ENDPOINT] == "ws://grid:3000/"
    assert set(merged.options) == {CONNECT_ENDPOINT, "headers", "timeout", "expose_network"}
    assert merged.options["headers"] == {
        LAUNCH_OPTIONS_HEADER: '{"headless": true}',
        "Authorization": "Bearer t",
    }
    assert merged.options["timeout"] == 120000
    assert merged.options["expose_network"] == "<loopback>"
    assert merged.conflicts and "browser_type_launch_args" in merged.conflicts[0]


def test_the_adjuster_keeps_each_conflict_once() -> None:
    adjust = SuiteLaunch({"args": ["--disable-web-security"]})
    for _ in range(2):
        options = adjust.launch(Engine.CHROMIUM, dict(OURS_CHROMIUM))
        assert "--disable-web-security" not in options["args"]
    assert len(adjust.conflicts()) == 1
    assert adjust.connect(Engine.CHROMIUM, {CONNECT_ENDPOINT: "ws://x/"}) == {
        CONNECT_ENDPOINT: "ws://x/"
    }
