"""Secrets without argv: --cookie-env, --header-env, --secrets-file, CORSPROOF_COOKIE/HEADER.

Each source is read into the same cookies and headers as --cookie/--header, and a
canary value from each never reaches anything corsproof writes or prints.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from conftest import needs_chromium, only_classes
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.cli import build_parser, config_from_args, main
from harness.credentials import COOKIE_ENV, HEADER_ENV, load_session, read_secrets_file
from harness.model.errors import ConfigError
from harness.serve.servers import BackgroundServer

CANARY_ENV_COOKIE = "canaryEnvCookie7a1f93c2"
CANARY_FLAG_COOKIE = "canaryFlagCookie5d20e8b1"
CANARY_ENV_HEADER = "canary-env-header-4b9e61d0"
CANARY_FILE_COOKIE = "canaryFileCookie0c7d3a95"
CANARY_FILE_HEADER = "canary-file-header-e82b04f6"
CANARIES = (
    CANARY_ENV_COOKIE,
    CANARY_FLAG_COOKIE,
    CANARY_ENV_HEADER,
    CANARY_FILE_COOKIE,
    CANARY_FILE_HEADER,
)
LEGIT = "https://app.example.com"


def secrets_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_every_source_is_read_and_named() -> None:
    session = load_session(
        ["a=1"],
        ["X-Argv: v"],
        cookie_env=["SESSION"],
        header_env=["TOKEN"],
        environ={
            "SESSION": "sid=s3cr3t-value; SameSite=Lax",
            "TOKEN": "Authorization: Bearer tok-123456789",
            COOKIE_ENV: "c1=one\n\nc2=two; Secure\n",
            HEADER_ENV: "X-Api-Key: key-abcdefgh",
        },
    )
    assert [c.name for c in session.cookies] == ["a", "sid", "c1", "c2"]
    assert session.cookies[1].same_site == "Lax" and session.cookies[3].secure is True
    assert [n for n, _ in session.headers] == ["X-Argv", "Authorization", "X-Api-Key"]
    assert session.sources == (
        "cookie sid from --cookie-env SESSION",
        "header Authorization from --header-env TOKEN",
        f"cookie c1 from {COOKIE_ENV}",
        f"cookie c2 from {COOKIE_ENV}",
        f"header X-Api-Key from {HEADER_ENV}",
    )
    secrets = session.secrets()
    for value in ("s3cr3t-value", "Bearer tok-123456789", "tok-123456789", "key-abcdefgh"):
        assert value in secrets
    # Names and sources go into the report summary; values never do.
    assert not any("s3cr3t" in s or "tok-" in s for s in session.sources)


def test_empty_corsproof_variables_are_ignored() -> None:
    # CI systems pass an unset secret as an empty string.
    session = load_session(environ={COOKIE_ENV: "", HEADER_ENV: "  \n"})
    assert session.cookies == () and session.headers == ()


@pytest.mark.parametrize(
    ("environ", "needle"),
    [
        ({}, "--cookie-env SESSION: the environment variable is not set"),
        ({"SESSION": " "}, "--cookie-env SESSION: the environment variable is empty"),
    ],
)
def test_a_named_variable_must_hold_a_value(environ: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_session(cookie_env=["SESSION"], environ=environ)


def test_a_bad_value_is_reported_by_source_without_the_value() -> None:
    with pytest.raises(ConfigError) as exc:
        load_session(header_env=["TOKEN"], environ={"TOKEN": "Bearer-s3cr3t-no-colon"})
    assert str(exc.value).startswith("--header-env TOKEN") and "s3cr3t" not in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_session(environ={COOKIE_ENV: "sid=s3cr3t value"})
    assert str(exc.value).startswith(f"{COOKIE_ENV} sid:") and "s3cr3t" not in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_session(headers=["Bearer s3cr3t:x"])
    assert "s3cr3t" not in str(exc.value)


def test_secrets_file_format(tmp_path: Path) -> None:
    path = secrets_file(
        tmp_path,
        "# the staging session\n\ncookie: sid=abc123def; SameSite=None; Secure\n"
        "HEADER:  Authorization: Bearer tok-987654321\n",
    )
    assert read_secrets_file(str(path)) == [
        (3, "cookie", "sid=abc123def; SameSite=None; Secure"),
        (4, "header", "Authorization: Bearer tok-987654321"),
    ]
    session = load_session(secrets_file=str(path), environ={})
    assert [c.name for c in session.cookies] == ["sid"]
    assert session.headers == (("Authorization", "Bearer tok-987654321"),)
    assert session.sources[0] == f"cookie sid from --secrets-file {path} line 3"


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o666])
def test_secrets_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secrets_file(tmp_path, "cookie: sid=abc123def\n", mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_secrets_file(str(path))


def test_secrets_file_group_readable_is_accepted(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, "cookie: sid=abc123def\n", 0o640)
    assert read_secrets_file(str(path))[0][1] == "cookie"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("token: s3cr3t-abcdef\n", "line 1: expected"),
        ("s3cr3t-abcdef\n", "line 1: expected"),
        ("# nothing\n\n", "holds no 'cookie:' or 'header:' line"),
    ],
)
def test_secrets_file_errors_never_show_the_line(tmp_path: Path, text: str, needle: str) -> None:
    path = secrets_file(tmp_path, text)
    with pytest.raises(ConfigError, match=needle) as exc:
        read_secrets_file(str(path))
    assert "s3cr3t" not in str(exc.value)


def test_missing_secrets_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_secrets_file(str(tmp_path / "nope"))


def test_config_redacts_every_source(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, f"cookie: f={CANARY_FILE_COOKIE}\n")
    ns = build_parser().parse_args(
        ["verify", "--cookie-env", "S", "--secrets-file", str(path), "--quiet"]
    )
    config = config_from_args(ns, {"S": f"s={CANARY_ENV_COOKIE}"})
    assert {CANARY_FILE_COOKIE, CANARY_ENV_COOKIE} <= set(config.secrets)
    summary = repr(config.summary())
    assert CANARY_FILE_COOKIE not in summary and CANARY_ENV_COOKIE not in summary
    assert config.summary()["session_sources"] == [
        "cookie s from --cookie-env S",
        f"cookie f from --secrets-file {path} line 1",
    ]


# -- a real run: the canaries reach the server and nothing corsproof writes ----------


def _app(seen: list[str]) -> Starlette:
    async def me(request: Request) -> JSONResponse:
        # Whatever credential arrived is echoed back in headers and a cookie, as a
        # careless server might; the report must not carry it.
        values = [*request.cookies.values(), *request.headers.values()]
        seen.extend(values)
        echo = " ".join(v for v in values if "canary" in v)
        response = JSONResponse({"user": "alice", "echo": echo})
        response.headers["X-Echo"] = echo
        response.set_cookie("echo", echo.replace(" ", "_"))
        return response

    return Starlette(
        routes=[Route("/me", me, methods=["GET"])],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[LEGIT],
                allow_credentials=True,
                allow_headers=["Authorization", "X-Token", "X-File-Token"],
                expose_headers=["X-Echo"],
            )
        ],
    )


@pytest.fixture
def canary_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    # https, so the cookies (Secure; SameSite=None by default there) go with the
    # browser's own credentialed requests: the wire witness, not a replay, carries them.
    seen: list[str] = []
    leaf = trustme.CA().issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    server = BackgroundServer(
        _app(seen), ssl_certfile=str(cert), ssl_keyfile=str(key), name="canary"
    )
    server.start()
    try:
        yield f"{server.url}/me", seen
    finally:
        server.stop()


@pytest.mark.browser
@needs_chromium
def test_canaries_never_reach_any_output(
    canary_server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = canary_server
    monkeypatch.setenv(COOKIE_ENV, f"envsid={CANARY_ENV_COOKIE}")
    monkeypatch.setenv("MY_TOKEN", f"X-Token: {CANARY_ENV_HEADER}")
    path = secrets_file(
        tmp_path,
        f"cookie: filesid={CANARY_FILE_COOKIE}\nheader: X-File-Token: {CANARY_FILE_HEADER}\n",
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(
        [
            "verify",
            "--target",
            url,
            "--allow-origin",
            LEGIT,
            "--cookie",
            f"flagsid={CANARY_FLAG_COOKIE}",
            "--header-env",
            "MY_TOKEN",
            "--secrets-file",
            str(path),
            "--insecure",
            "--browser",
            "chromium",
            "--cookie-policy",
            "default",
            "--per-class",
            "1",
            *only_classes(),
            "--out",
            str(tmp_path / "reports"),
            "--run-id",
            "canary",
            "--format",
            "all",
        ],
        out=out,
        err=err,
    )
    assert code in (0, 1), err.getvalue()
    # The credentials were used: every canary reached the server.
    for canary in CANARIES:
        assert any(canary in v for v in seen), canary
    assert "using cookie envsid from CORSPROOF_COOKIE" in err.getvalue()
    written = {p.name: p.read_text("utf-8", "replace") for p in _files(tmp_path / "reports")}
    assert {"report.json", "probes.jsonl", "report.html", "report.sarif", "summary.md"} <= set(
        written
    )
    written["stdout"], written["stderr"] = out.getvalue(), err.getvalue()
    for name, text in written.items():
        for canary in CANARIES:
            assert canary not in text, f"{canary} in {name}"


def _files(root: Path) -> list[Path]:
    return [Path(d, f) for d, _, files in os.walk(root) for f in files]
