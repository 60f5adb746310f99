"""Third-party targets for the wire-witness tests: real CORS middleware, not the lab.

Each app sets its own session cookie at ``/login?samesite=Lax|None|Strict`` (always
``Secure; HttpOnly``) and answers ``/me`` with 200 to everyone: the anonymous caller
gets ``{"user": null}``, the logged-in one the user's record and a secret. So a read
is the victim's data only if the session cookie went, which is what the witness must
tell apart. All of them reflect any Origin with credentials:

* Starlette's ``CORSMiddleware`` with ``allow_origin_regex=".*"`` and credentials;
* Flask-CORS with ``supports_credentials=True`` (it then echoes the Origin);
* a hand-written ``http.server`` reflector;

and one more hand-written server authenticates only by bearer token and reflects
Origin *without* Access-Control-Allow-Credentials.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

COOKIE = "sid"
SAMESITE = ("Lax", "None", "Strict")


class Secrets:
    """The values a run must never write anywhere: one session per app, one token."""

    def __init__(self) -> None:
        self.sessions = {name: f"sess-{name}-{secrets.token_hex(8)}" for name in APPS}
        self.data = {name: f"secret-{name}-{secrets.token_hex(8)}" for name in APPS}
        self.token = f"tok-{secrets.token_hex(12)}"

    def all(self) -> list[str]:
        return [*self.sessions.values(), *self.data.values(), self.token]


def _login_cookie(value: str, same_site: str) -> str:
    return f"{COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite={same_site}"


def _me(session: str | None, expected: str, secret: str) -> dict[str, Any]:
    if session == expected:
        return {"user": "alice", "email": "alice@example.com", "secret": secret}
    return {"user": None}


def starlette_app(s: Secrets) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    async def login(request: Request) -> HTMLResponse:
        resp = HTMLResponse("<p>logged in</p>")
        same_site = request.query_params.get("samesite", "Lax")
        resp.headers.append("Set-Cookie", _login_cookie(s.sessions["starlette"], same_site))
        return resp

    async def me(request: Request) -> JSONResponse:
        got = request.cookies.get(COOKIE)
        return JSONResponse(_me(got, s.sessions["starlette"], s.data["starlette"]))

    return Starlette(
        routes=[Route("/login", login), Route("/me", me)],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origin_regex=r".*",
                allow_credentials=True,
                allow_methods=["GET"],
                allow_headers=["Authorization"],
                max_age=600,
            )
        ],
    )


def flask_app(s: Secrets) -> Any:
    from flask import Flask, jsonify, make_response, request
    from flask_cors import CORS

    app = Flask("corsproof-flask-target")

    @app.get("/login")
    def login() -> Any:
        resp = make_response("<p>logged in</p>")
        same_site = request.args.get("samesite", "Lax")
        resp.headers.add("Set-Cookie", _login_cookie(s.sessions["flask"], same_site))
        return resp

    @app.get("/me")
    def me() -> Any:
        return jsonify(_me(request.cookies.get(COOKIE), s.sessions["flask"], s.data["flask"]))

    CORS(app, supports_credentials=True, max_age=600)
    return app


def _reflector(s: Secrets, *, name: str, credentials: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def _cors(self) -> None:
            origin = self.headers.get("Origin")
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                if credentials:
                    self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Vary", "Origin")

        def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str]) -> None:
            self.send_response(status)
            self._cors()
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_OPTIONS(self) -> None:
            self.send_response(204)
            self._cors()
            self.send_header("Access-Control-Allow-Methods", "GET")
            asked = self.headers.get("Access-Control-Request-Headers")
            if asked:
                self.send_header("Access-Control-Allow-Headers", asked)
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/login":
                same_site = query.partition("samesite=")[2] or "Lax"
                cookie = _login_cookie(s.sessions[name], same_site)
                self._send(200, b"<p>logged in</p>", "text/html", {"Set-Cookie": cookie})
                return
            if path != "/me":
                self._send(404, b"{}", "application/json", {})
                return
            if credentials:
                cookies = dict(
                    part.strip().partition("=")[::2]
                    for part in (self.headers.get("Cookie") or "").split(";")
                    if part.strip()
                )
                body = _me(cookies.get(COOKIE), s.sessions[name], s.data[name])
            else:
                token = (self.headers.get("Authorization") or "").partition(" ")[2]
                body = _me(token, s.token, s.data[name])
            self._send(200, json.dumps(body).encode(), "application/json", {})

    return Handler


APPS = ("starlette", "flask", "reflector", "bearer")
"""The apps, by name; ``bearer`` is the token-only one."""


@contextmanager
def https_servers(tmp: Path, s: Secrets) -> Iterator[dict[str, int]]:
    """Every app on its own loopback https port; yields name -> port."""
    from werkzeug.serving import make_server

    from harness.serve.servers import BackgroundServer

    # Flask's development server logs every request to stderr.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ca = trustme.CA()
    leaf = ca.issue_cert("*.shop.test", "127.0.0.1")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ports: dict[str, int] = {}
    stops: list[Callable[[], None]] = []
    try:
        star = BackgroundServer(
            starlette_app(s), ssl_certfile=str(cert), ssl_keyfile=str(key), name="starlette"
        )
        star.start()
        stops.append(star.stop)
        ports["starlette"] = star.port

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert), str(key))
        flask = make_server("127.0.0.1", 0, flask_app(s), threaded=True, ssl_context=ctx)
        threading.Thread(target=flask.serve_forever, daemon=True).start()
        stops.append(flask.shutdown)
        ports["flask"] = flask.server_port

        for name, credentials in (("reflector", True), ("bearer", False)):
            server = ThreadingHTTPServer(
                ("127.0.0.1", 0), _reflector(s, name=name, credentials=credentials)
            )
            server.socket = ctx.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stops.append(server.shutdown)
            ports[name] = server.server_address[1]
        yield ports
    finally:
        for stop in reversed(stops):
            stop()
