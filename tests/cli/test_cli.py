"""Command-line parsing: one clear line and exit 2 for bad input, never a traceback."""

from __future__ import annotations

import argparse
import io
import json
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.cli import build_parser, config_from_args, main
from harness.config import parse_bind, parse_cookie, parse_engines, parse_header, parse_remote
from harness.model.errors import EXIT_TOOL_ERROR, ConfigError
from harness.model.results import CookiePolicy, Engine, Severity


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def config(*argv: str):  # type: ignore[no-untyped-def]
    return config_from_args(build_parser().parse_args(["verify", *argv]))


def test_defaults_point_at_the_lab() -> None:
    c = config()
    assert c.lab and c.targets == ()
    assert [o.serialize() for o in c.legit_origins] == ["https://app.example.com"]
    assert c.fail_on is Severity.HIGH
    assert c.cookie_policies == (CookiePolicy.DEFAULT, CookiePolicy.PERMISSIVE)
    assert c.formats == ("html", "json")


def test_sarif_options_reach_the_report_config() -> None:
    c = config("--sarif-category", "/cors/nightly/", "--sarif-location", "app\\cors.py")
    assert (c.sarif_category, c.sarif_location) == ("cors/nightly", "app/cors.py")
    assert c.summary()["sarif_category"] == "cors/nightly"
    assert config().summary()["sarif_location"] is None


def test_external_target_is_safe_by_default() -> None:
    c = config(
        "--target", "https://api.example.org/me", "--allow-origin", "https://app.example.org"
    )
    assert not c.lab and not c.unsafe
    assert config("--target", "https://api.example.org/me", "--unsafe").unsafe


def test_secrets_are_collected_for_redaction_and_kept_out_of_the_summary() -> None:
    c = config(
        "--target",
        "https://a.example.org/",
        "--cookie",
        "sid=topsecret1; SameSite=Lax",
        "--header",
        "Authorization: Bearer tok-abcdefgh",
    )
    assert "topsecret1" in c.secrets and "tok-abcdefgh" in c.secrets
    summary = json.dumps(c.summary())
    assert "topsecret1" not in summary and "tok-abcdefgh" not in summary


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--target", "ftp://x"], "--target"),
        (["--target", "not a url"], "--target"),
        (["--target", "https://user:pw@x.test/"], "credentials in the URL"),
        (["--target", "https://[::1/"], "invalid host"),
        (["--allow-origin", "app.example.com"], "--allow-origin"),
        (["--browser", "netscape"], "unknown engine"),
        (["--browser", "chromium=/nonexistent/chrome"], "no executable"),
        (["--cookie", "novalue"], "--cookie"),
        (["--cookie", "a=b; SameSite=Sometimes"], "SameSite"),
        (["--header", "NoColon"], "--header"),
        (["--header", "Bad Name: x"], "not a valid header name"),
        (["--format", "pdf"], "--format"),
        (["--fail-on", "urgent"], "--fail-on"),
        (["--timeout", "-1"], "--timeout"),
        (["--cookie-policy", "paranoid"], "--cookie-policy"),
        (["--disable-class", "nonsense"], "--disable-class"),
        (["--shard", "3/2"], "--shard"),
        (["--bind", "api.example.org"], "--bind"),
        (["--storage-state", "/nonexistent.json"], "--storage-state"),
        (["--login-url", "notaurl"], "--login-url"),
        (["--sarif-location", "https://api.example.org/me"], "--sarif-location"),
        (["--sarif-location", "../outside.py"], "--sarif-location"),
        (["--sarif-location", "/abs/cors.py"], "--sarif-location"),
        (["--sarif-category", "two words"], "--sarif-category"),
        (["--browser-source", "homebrew"], "--browser-source"),
        (["--unknown-flag"], "unrecognized"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], needle: str) -> None:
    code, _out, err = run("verify", *argv)
    assert code == EXIT_TOOL_ERROR
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("corsproof: error:"), err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_header_error_does_not_echo_the_secret() -> None:
    code, _, err = run("verify", "--header", "Bearer-s3cr3t-token-without-colon")
    assert code == EXIT_TOOL_ERROR and "s3cr3t" not in err


def test_malformed_storage_state(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    code, _, err = run("verify", "--storage-state", str(bad))
    assert code == EXIT_TOOL_ERROR and "not JSON" in err
    bad.write_text(json.dumps({"cookies": [{"name": "a"}]}))
    code, _, err = run("verify", "--storage-state", str(bad))
    assert code == EXIT_TOOL_ERROR and "without name, value and domain" in err


@pytest.mark.parametrize(
    "state",
    [{"cookies": []}, {}, {"cookies": [], "origins": [{"origin": "x", "localStorage": []}]}],
)
def test_storage_state_without_cookies_is_refused(tmp_path: Path, state: dict[str, Any]) -> None:
    # Accepted silently, it ran every credentialed probe without a session.
    file = tmp_path / "state.json"
    file.write_text(json.dumps(state))
    # Through the parser only: had it been accepted, main() would start a whole run.
    with pytest.raises(ConfigError, match="holds no cookies") as exc:
        config("--storage-state", str(file))
    assert "\n" not in str(exc.value)


def test_resume_without_run_id_says_it_needs_one(tmp_path: Path) -> None:
    code, _, err = run("verify", "--resume", "--out", str(tmp_path))
    assert code == EXIT_TOOL_ERROR
    assert err.startswith("corsproof: error: --resume needs --run-id"), err
    assert list(tmp_path.iterdir()) == [], "no empty run folder is left behind"


def test_lab_port_out_of_range_is_one_line() -> None:
    code, _, err = run("lab", "--port", "99999")
    assert code == EXIT_TOOL_ERROR
    assert err.strip().splitlines() == [
        "corsproof: error: --port 99999: must be between 0 and 65535"
    ]


@pytest.mark.parametrize("quiet", [True, False])
def test_unreachable_target_is_reported_once(tmp_path: Path, quiet: bool) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(
        "verify",
        "--target",
        f"http://127.0.0.1:{port}/me",
        "--out",
        str(tmp_path),
        "--browser",
        "chromium",
        *(["--quiet"] if quiet else []),
    )
    assert code == EXIT_TOOL_ERROR
    lines = [ln for ln in err.splitlines() if "unreachable" in ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("corsproof: error: target http://127.0.0.1:")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", ["verify", "merge", "lab"])
def test_every_option_has_help(command: str) -> None:
    parser = _subparsers()[command]
    missing = [
        a.option_strings[0] if a.option_strings else a.dest
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()
    ]
    assert missing == [], f"{command}: options without help text: {missing}"


def test_readme_names_the_corsproof_command() -> None:
    root = Path(__file__).resolve().parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["corsproof"] == "harness.cli:main"
    readme = (root / "README.md").read_text()
    assert "corsproof verify --target" in readme
    assert "`corsproof`" in readme


def test_unwritable_output_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run("verify", "--out", str(blocker / "sub"), "--browser", "chromium")
    assert code == EXIT_TOOL_ERROR and "cannot write" in err


def test_parsers() -> None:
    c = parse_cookie("sid=abc; SameSite=lax; Secure; Domain=.example.org; Path=/api; HttpOnly")
    assert (c.name, c.value, c.same_site, c.secure, c.domain, c.path, c.http_only) == (
        "sid",
        "abc",
        "Lax",
        True,
        "example.org",
        "/api",
        True,
    )
    assert parse_header("Authorization:  Bearer x ") == ("Authorization", "Bearer x")
    engines = parse_engines("firefox, chromium=/bin/sh")
    assert [(e.engine, e.path, e.explicit) for e in engines] == [
        (Engine.FIREFOX, None, True),
        (Engine.CHROMIUM, "/bin/sh", True),
    ]
    with pytest.raises(ConfigError):
        parse_engines("chromium,chromium")
    assert [parse_bind(b) for b in ("0.0.0.0", "[::]", "::1", "localhost")] == [
        "0.0.0.0",
        "::",
        "::1",
        "127.0.0.1",
    ]


def test_help_explains_exit_codes() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--help"], out=io.StringIO(), err=io.StringIO())
    assert exc.value.code == 0
    text = build_parser()._subparsers._group_actions[0].choices["verify"].format_help()  # type: ignore[union-attr]
    assert "130" in text and "--fail-on" in text and "--unsafe" in text


ARG = st.sampled_from(
    [
        "--target",
        "--allow-origin",
        "--origin",
        "--cookie",
        "--header",
        "--browser",
        "--format",
        "--fail-on",
        "--timeout",
        "--shard",
        "--cookie-policy",
        "--disable-class",
        "--rate",
        "--concurrency",
        "--remote",
        "--bind",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(ARG, st.text(max_size=30)), max_size=4))
def test_config_parsing_fuzz(pairs: list[tuple[str, str]]) -> None:
    argv = ["verify"]
    for flag, value in pairs:
        argv += [flag, value]
    try:
        config_from_args(build_parser().parse_args(argv))
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc).strip()


REMOTE = st.builds(
    lambda engine, scheme, rest: f"{engine}={scheme}{rest}",
    st.sampled_from(["chromium", "firefox", "webkit", "Chromium", "opera", ""]),
    st.sampled_from(["ws://", "wss://", "http://", "https://", "", "ftp://"]),
    st.text(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(REMOTE)
def test_remote_parsing_fuzz(text: str) -> None:
    try:
        remote = parse_remote(text)
    except ConfigError as exc:
        assert str(exc).startswith("--remote") and "\n" not in str(exc).strip()
    else:
        assert remote.host and remote.url.split("://", 1)[0] in ("ws", "wss", "http", "https")
        assert "?" not in remote.display and "@" not in remote.display
