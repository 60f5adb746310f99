"""The page server: generated probe pages for every origin corsproof impersonates.

One FastAPI app answers for every host; the proxy decides which names reach it.
It serves the probe page, and a redirector that taints a request's origin to
``null`` by bouncing it cross-origin to a configured target. It never fetches
anything itself.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from importlib import resources
from urllib.parse import urlsplit

import jinja2
import markupsafe
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

PROBE_PATH = "/__corsproof/probe"
REDIRECT_PATH = "/__corsproof/redirect"


@functools.cache
def probe_js() -> str:
    """The in-page probe runner."""
    return resources.files("harness.serve").joinpath("static/probe.js").read_text("utf-8")


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.serve", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@functools.lru_cache(maxsize=1024)
def render_probe_page(origin: str, *, role: str = "attacker", klass: str = "") -> str:
    """The HTML of the probe page as served for ``origin``; also shown in reports."""
    # The script is inserted as markup: it is our own file, and it must not be
    # HTML-escaped. Nothing from the target ever reaches this template.
    js = probe_js().replace("</", "<\\/")
    return (
        _env()
        .get_template("probe.html.j2")
        .render(origin=origin, role=role, klass=klass, probe_js=markupsafe.Markup(js))  # noqa: S704 - our own static file
    )


def create_app(redirect_targets: Collection[str]) -> FastAPI:
    """The page-server app. ``redirect_targets`` are the only URLs the redirector sends to."""
    allowed = {_strip(u) for u in redirect_targets}
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.redirect_targets = allowed

    # Handlers are async: none blocks, and a sync one costs every request a hop
    # through AnyIO's thread pool in the process that also relays the probes.
    @app.get(PROBE_PATH)
    async def probe(request: Request, role: str = "attacker", klass: str = "") -> HTMLResponse:
        host = request.headers.get("host", "")
        origin = f"{request.url.scheme}://{host}"
        return HTMLResponse(
            render_probe_page(origin, role=role[:32], klass=klass[:64]),
            headers={"Cache-Control": "no-store"},
        )

    @app.api_route(
        REDIRECT_PATH, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    )
    async def redirect(request: Request, to: str = "") -> Response:
        origin = request.headers.get("origin")
        headers = {"Cache-Control": "no-store", "Vary": "Origin"}
        # The redirect response itself must pass the CORS check, or the browser
        # never follows it; only then does the next hop carry Origin: null.
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
        if request.method == "OPTIONS":
            acrh = request.headers.get("access-control-request-headers")
            acrm = request.headers.get("access-control-request-method")
            if acrh:
                headers["Access-Control-Allow-Headers"] = acrh
            if acrm:
                headers["Access-Control-Allow-Methods"] = acrm
            return Response(status_code=204, headers=headers)
        if _strip(to) not in allowed:
            return PlainTextResponse("not a configured target", status_code=403, headers=headers)
        headers["Location"] = to
        return Response(status_code=307, headers=headers)

    @app.get("/")
    async def index() -> PlainTextResponse:
        return PlainTextResponse("corsproof page server")

    return app


def allow_redirects(app: FastAPI, targets: Collection[str]) -> None:
    """Let the running app's redirector send to these targets too (a reused server)."""
    app.state.redirect_targets.update(_strip(u) for u in targets)


def _strip(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
