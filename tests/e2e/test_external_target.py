"""verify against a server corsproof did not configure: Starlette's own CORSMiddleware,
on https with a self-signed certificate, reached as an external target."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from conftest import needs_chromium, needs_firefox, only_classes
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from harness.cli import main
from harness.serve.servers import BackgroundServer

COOKIE_SECRET = "sess-7f3a9c1e5b-external"
BEARER_SECRET = "tok-external-91d2c4aa77"
LEGIT = "https://app.example.com"


def make_app(seen: list[str]) -> Starlette:
    async def me(request: Request) -> JSONResponse:
        seen.append(request.method)
        if request.cookies.get("sid") == COOKIE_SECRET:
            return JSONResponse({"user": "alice", "email": "alice@example.com"})
        return JSONResponse({"error": "login required"}, status_code=401)

    return Starlette(
        routes=[Route("/me", me, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[LEGIT],
                allow_credentials=True,
                allow_methods=["GET"],
                allow_headers=["Authorization"],
                max_age=600,
            )
        ],
    )


@pytest.fixture(scope="module")
def starlette_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    tmp = tmp_path_factory.mktemp("starlette")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    seen: list[str] = []
    server = BackgroundServer(
        make_app(seen), ssl_certfile=str(cert), ssl_keyfile=str(key), name="starlette"
    )
    server.start()
    try:
        yield f"https://127.0.0.1:{server.port}/me", seen
    finally:
        server.stop()


QUICK = only_classes("post-domain", "sibling-subdomain", "scheme-downgrade", "null")


def verify(out: Path, target: str, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(
        [
            "verify",
            "--target",
            target,
            "--allow-origin",
            LEGIT,
            "--out",
            str(out),
            "--run-id",
            "ext",
            "--per-class",
            "1",
            "--quiet",
            *QUICK,
            *extra,
        ],
        out=io.StringIO(),
        err=err,
    )
    return code, err.getvalue()


@pytest.mark.browser
@needs_chromium
def test_self_signed_target_needs_insecure(
    starlette_https: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = starlette_https
    code, err = verify(tmp_path, url, "--browser", "chromium")
    assert code == 2
    assert "certificate" in err and "--insecure" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.browser
@needs_chromium
@needs_firefox
def test_verify_external_starlette(starlette_https: tuple[str, list[str]], tmp_path: Path) -> None:
    url, seen = starlette_https
    code, err = verify(
        tmp_path,
        url,
        "--insecure",
        "--browser",
        "chromium,firefox",
        "--cookie",
        f"sid={COOKIE_SECRET}",
        "--header",
        f"Authorization: Bearer {BEARER_SECRET}",
        "--format",
        "html,json,junit,sarif,md",
    )
    assert code == 0, err
    run = tmp_path / "ext"
    data = json.loads((run / "report.json").read_text())
    assert data["findings"] == [] or all(
        f["severity"] in ("low", "info", "medium") for f in data["findings"]
    )
    probes = data["probes"]
    for engine in ("chromium", "firefox"):
        legit = [
            p
            for p in probes
            if p["engine"] == engine and p["origin"] == LEGIT and p["cookie_policy"] == "default"
        ]
        assert legit and all(p["readable"] for p in legit), engine
        # 127.0.0.1 is cross-site to app.example.com: default Chromium sends the
        # session cookie, default Firefox (Total Cookie Protection) does not.
        expected = {"chromium": {200}, "firefox": {401}}[engine]
        assert {p["status"] for p in legit if p["credentials"] == "include"} == expected
        assert {p["status"] for p in legit if p["credentials"] == "omit"} == {401}
        permissive = [
            p
            for p in probes
            if p["engine"] == engine
            and p["origin"] == LEGIT
            and p["cookie_policy"] == "permissive"
            and p["credentials"] == "include"
        ]
        assert {p["status"] for p in permissive} <= {200}
        attackers = [p for p in probes if p["engine"] == engine and p["role"] == "attacker"]
        assert attackers and not any(p["readable"] for p in attackers)
    # Without --unsafe, nothing but GET and the preflight reached the target.
    assert set(seen) <= {"GET"}
    # Neither the terminal output nor any artifact of the run holds a secret it was given.
    assert COOKIE_SECRET not in err and BEARER_SECRET not in err
    # Every file, the SARIF placeholders under .corsproof/ included.
    for artifact in (p for p in run.rglob("*") if p.is_file()):
        text = artifact.read_text("utf-8", errors="replace")
        assert COOKIE_SECRET not in text, artifact.name
        assert BEARER_SECRET not in text, artifact.name
