"""Hostile HTTP servers for corsproof's robustness tests.

One raw-socket server answers badly in a way chosen by the request path: it
hangs, answers late, resets the connection, closes mid-body, redirects in a loop
or across origins, streams 100 MB or forever, sends malformed or duplicated CORS
headers, puts HTML/script payloads everywhere, or speaks HTTP/1.0.

Raw sockets rather than a framework because the point is to send what no
well-behaved framework would let us send (two ``Access-Control-Allow-Origin``
lines, a short body under a long ``Content-Length``, an RST instead of a FIN).

Safety rules the tests rely on:

* loopback only (binds 127.0.0.1, port 0);
* every loop is bounded (by bytes, by time and by the stop event);
* the server is a context manager whose ``__exit__`` always stops it, closing
  every connection it still holds, so a hung test cannot leak threads that
  keep Chromium's sockets open.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, quote, urlsplit

import trustme

LEGIT = "https://app.example.com"
"""The legitimate frontend origin every case passes as ``--allow-origin``."""

PAYLOAD_SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
"""Script payload: runs if the report ever inserts target text as HTML."""
PAYLOAD_ATTR = '"><img src=x onerror="window.__pwned=1;alert(1)">'
"""Attribute-breakout payload: runs if target text lands unescaped in an attribute."""
PAYLOADS = (PAYLOAD_SCRIPT, PAYLOAD_ATTR)
"""Everything the ``/xss*`` paths put in headers and bodies."""
UNESCAPED_MARKERS = ("<script>window.__pwned", "<img src=x onerror", 'onerror="window')
"""Substrings that must never appear in report.html: only escaped forms may."""

MAX_HEAD = 64 * 1024
"""Most bytes of request head read; more is not a request we want to parse."""
HUGE_BYTES = 100 * 1024 * 1024
"""Size of the ``/huge`` body (streamed from one small buffer, never allocated)."""
ENDLESS_LIMIT = 4 * 1024 * 1024 * 1024
"""Hard cap on ``/endless``: "forever" for any client, still a bounded loop."""
HANG_LIMIT = 180.0
"""Longest a ``/hang`` connection is held open; the stop event ends it sooner."""
SLOW_DELAY = 5.0
"""How late ``/slow`` answers (tests use ``--timeout 2``)."""
CHUNK = b"x" * 65536
"""The one buffer ``/huge`` and ``/endless`` send again and again."""
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Seen:
    """One request the hostile server received (what the tests assert on)."""

    method: str
    path: str
    origin: str | None
    user_agent: str


@dataclass
class _Req:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")


Handler = Callable[["HostileServer", socket.socket, _Req], None]


class HostileServer:
    """A loopback server that misbehaves by path. Use it as a context manager.

    ``tls`` wraps every accepted connection (for the invalid-certificate cases).
    ``log`` lists every parsed request, in arrival order.
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.log: list[Seen] = []
        self.port = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.bytes_sent = 0
        """Body bytes sent by ``/huge`` and ``/endless`` (to show they really streamed)."""

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def base(self) -> str:
        """``http(s)://127.0.0.1:PORT``."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The full URL of one behaviour, e.g. ``url("/hang")``."""
        return f"{self.base}{path}"

    def start(self) -> None:
        """Listen on a free loopback port and accept in a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        # A short accept timeout lets the loop notice the stop event promptly.
        sock.settimeout(0.2)
        self._listener = sock
        self.port = sock.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"hostile-{self.port}", daemon=True
        )
        self._accept_thread.start()

    def stop(self) -> None:
        """Stop accepting, drop every open connection, join the threads (bounded)."""
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        for thread in list(self._threads):
            thread.join(2)

    def methods(self) -> set[str]:
        """Every request method the server has seen."""
        with self._lock:
            return {s.method for s in self.log}

    def seen(self, path: str) -> list[Seen]:
        """Requests for one path (query string ignored)."""
        with self._lock:
            return [s for s in self.log if s.path == path]

    # ------------------------------------------------------------------ plumbing

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            with self._lock:
                self._conns.add(conn)
                # Forget finished threads so a long run does not grow the list forever.
                self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            raw.settimeout(10)
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # the client refused our certificate: that is the point
                with self._lock:
                    self._conns.add(conn)
            req = _read_request(conn)
            if req is None:
                return
            with self._lock:
                self.log.append(
                    Seen(req.method, req.path, req.origin, req.headers.get("user-agent", ""))
                )
            handler = HANDLERS.get(req.path, _h_not_found)
            handler(self, conn, req)
        except OSError:
            pass  # the client went away; hostile or not, the next connection is fresh
        finally:
            with self._lock:
                self._conns.discard(raw)
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _send_stream(self, conn: socket.socket, total: int) -> None:
        """Send ``total`` bytes of body from one buffer, until the peer or the test stops."""
        conn.settimeout(0.5)
        sent = 0
        while sent < total and not self._stop.is_set():
            piece = CHUNK[: min(len(CHUNK), total - sent)]
            try:
                conn.sendall(piece)
            except TimeoutError:
                continue  # a slow reader: keep the loop responsive to stop()
            sent += len(piece)
            self.bytes_sent += len(piece)

    def _send_chunked_forever(self, conn: socket.socket) -> None:
        """Chunked encoding with no last chunk: the body never ends (capped by ENDLESS_LIMIT)."""
        conn.settimeout(0.5)
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        sent = 0
        while sent < ENDLESS_LIMIT and not self._stop.is_set():
            try:
                conn.sendall(frame)
            except TimeoutError:
                continue
            sent += len(CHUNK)
            self.bytes_sent += len(CHUNK)


# ---------------------------------------------------------------------- requests


def _read_request(conn: socket.socket) -> _Req | None:
    """Read one request head (bounded) and drain a declared body (bounded)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            return None
        try:
            data = conn.recv(65536)
        except TimeoutError:
            return None
        if not data:
            return None
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, _version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    # A request body must not be mistaken for the next request; we never keep it.
    want = min(int(headers.get("content-length", "0") or 0), MAX_HEAD) - len(rest)
    while want > 0:
        try:
            data = conn.recv(min(want, 65536))
        except TimeoutError:
            break
        if not data:
            break
        want -= len(data)
    split = urlsplit(target)
    return _Req(method.upper(), target, split.path, parse_qs(split.query), headers)


def _head(status: str, headers: list[tuple[str, str]], version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _answer(
    conn: socket.socket,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    version: str = "HTTP/1.1",
    length: bool = True,
) -> None:
    extra = [("Content-Length", str(len(body)))] if length else []
    conn.sendall(_head(status, [*headers, *extra, ("Connection", "close")], version) + body)


def _legit_cors() -> list[tuple[str, str]]:
    """A correct policy that trusts only the legitimate origin."""
    return [
        ("Access-Control-Allow-Origin", LEGIT),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]


def _preflight_ok(extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [
        *extra,
        ("Access-Control-Allow-Methods", "GET"),
        ("Access-Control-Allow-Headers", "Authorization"),
    ]


def _json() -> list[tuple[str, str]]:
    return [("Content-Type", "application/json")]


def _simple(conn: socket.socket, req: _Req, cors: list[tuple[str, str]], body: bytes) -> None:
    """Answer a preflight with ``cors`` + allow lists, anything else with 200 + ``cors``."""
    if req.method == "OPTIONS":
        _answer(conn, "204 No Content", _preflight_ok(cors))
    else:
        _answer(conn, "200 OK", [*_json(), *cors], body)


# ---------------------------------------------------------------------- behaviours


def _h_ok(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    _simple(conn, req, _legit_cors(), b'{"ok":true}')


def _h_not_found(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    _answer(conn, "404 Not Found", [("Content-Type", "text/plain")], b"no such behaviour")


def _h_hang(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    # Accept, read the request, then say nothing until the test ends.
    srv._stop.wait(HANG_LIMIT)


def _h_slow(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    if srv._stop.wait(SLOW_DELAY):
        return
    _simple(conn, req, _legit_cors(), b'{"slow":true}')


def _h_reset(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    # SO_LINGER with a zero timeout turns close() into an RST instead of a FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _h_midclose(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    if req.method == "OPTIONS":
        # A clean preflight, so the preflighted probes reach the broken actual response.
        _answer(conn, "204 No Content", _preflight_ok(_legit_cors()))
        return
    # Promise 1000 bytes, deliver 10, hang up.
    head = _head("200 OK", [*_json(), *_legit_cors(), ("Content-Length", "1000")])
    conn.sendall(head + b'{"partial"')
    conn.shutdown(socket.SHUT_RDWR)


def _reflect(origin: str | None) -> list[tuple[str, str]]:
    """Trust whoever asks: the redirect hops must pass the CORS check to be followed."""
    return [
        ("Access-Control-Allow-Origin", origin or "*"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin"),
    ]


def _h_loop(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    if req.method == "OPTIONS":
        _answer(conn, "204 No Content", _preflight_ok(_reflect(req.origin)))
        return
    # Each hop carries valid CORS headers, so the only thing that stops a browser
    # is its redirect limit.
    n = int((req.query.get("n") or ["0"])[0]) + 1
    _answer(conn, "302 Found", [("Location", f"/loop?n={n}"), *_reflect(req.origin)])


def _h_redir_cross(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    if req.method == "OPTIONS":
        _answer(conn, "204 No Content", _preflight_ok(_reflect(req.origin)))
        return
    to = (req.query.get("to") or ["/ok"])[0]
    _answer(conn, "302 Found", [("Location", to), *_reflect(req.origin)])


def _h_huge(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    if req.method == "OPTIONS":
        _answer(conn, "204 No Content", _preflight_ok(_legit_cors()))
        return
    head = _head(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            *_legit_cors(),
            ("Content-Length", str(HUGE_BYTES)),
            ("Connection", "close"),
        ],
    )
    conn.sendall(head)
    srv._send_stream(conn, HUGE_BYTES)


def _h_endless(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    if req.method == "OPTIONS":
        _answer(conn, "204 No Content", _preflight_ok(_legit_cors()))
        return
    head = _head(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            *_legit_cors(),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
        ],
    )
    conn.sendall(head)
    srv._send_chunked_forever(conn)


def _malformed(kind: str, origin: str | None) -> list[tuple[str, str]]:
    """The request origin granted in a way loose parsers accept and browsers refuse."""
    o = origin or "null"
    if kind == "dup":
        return [
            ("Access-Control-Allow-Origin", o),
            ("Access-Control-Allow-Origin", o),
            ("Access-Control-Allow-Credentials", "true"),
        ]
    if kind == "caps":
        return [("Access-Control-Allow-Origin", o), ("Access-Control-Allow-Credentials", "TRUE")]
    if kind == "space":
        # Trailing whitespace is optional whitespace in HTTP: browsers strip it.
        return [
            ("Access-Control-Allow-Origin", o + "   "),
            ("Access-Control-Allow-Credentials", "true"),
        ]
    if kind == "upper":
        # Same origin in another case: scanners compare case-insensitively, browsers do not.
        return [
            ("Access-Control-Allow-Origin", o.upper()),
            ("Access-Control-Allow-Credentials", "true"),
        ]
    if kind == "list":
        return [
            ("Access-Control-Allow-Origin", f"{o}, {LEGIT}"),
            ("Access-Control-Allow-Credentials", "true"),
        ]
    raise ValueError(kind)


def _malformed_handler(kind: str) -> Handler:
    def handler(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
        _simple(conn, req, _malformed(kind, req.origin), b'{"secret":"malformed"}')

    return handler


def _h_xss(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    # Reflect the origin with credentials, so corsproof reports a finding and shows
    # this exchange's headers as evidence in the HTML report.
    cors = [*_reflect(req.origin), ("Access-Control-Expose-Headers", PAYLOAD_SCRIPT)]
    payload_headers = [
        ("X-Payload", PAYLOAD_ATTR),
        ("X-Script", PAYLOAD_SCRIPT),
        ("Set-Cookie", f"p={PAYLOAD_SCRIPT}; Path=/"),
        ("Server", PAYLOAD_ATTR),
    ]
    body = f"<html><body>{PAYLOAD_SCRIPT}{PAYLOAD_ATTR}</body></html>".encode()
    if req.method == "OPTIONS":
        _answer(conn, "204 No Content", _preflight_ok([*cors, *payload_headers]))
        return
    status = f"200 {PAYLOAD_ATTR}"  # a reason phrase is free text too
    _answer(conn, status, [("Content-Type", "text/html"), *cors, *payload_headers], body)


def _h_xss_acao(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    # The payload as the CORS grant itself: the browser blocks, the evidence keeps it.
    cors = [
        ("Access-Control-Allow-Origin", PAYLOAD_SCRIPT),
        ("Access-Control-Allow-Credentials", PAYLOAD_ATTR),
        ("Vary", PAYLOAD_ATTR),
    ]
    _simple(conn, req, cors, PAYLOAD_SCRIPT.encode())


def _h_http10(srv: HostileServer, conn: socket.socket, req: _Req) -> None:
    # HTTP/1.0, no Content-Length: the end of the body is the end of the connection.
    if req.method == "OPTIONS":
        _answer(conn, "200 OK", _preflight_ok(_legit_cors()), version="HTTP/1.0")
        return
    body = b'{"http":"1.0"}'
    conn.sendall(_head("200 OK", [*_json(), *_legit_cors()], "HTTP/1.0") + body)


HANDLERS: dict[str, Handler] = {
    "/ok": _h_ok,
    "/hang": _h_hang,
    "/slow": _h_slow,
    "/reset": _h_reset,
    "/midclose": _h_midclose,
    "/loop": _h_loop,
    "/redir-cross": _h_redir_cross,
    "/huge": _h_huge,
    "/endless": _h_endless,
    "/dup-acao": _malformed_handler("dup"),
    "/true-caps": _malformed_handler("caps"),
    "/acao-space": _malformed_handler("space"),
    "/acao-list": _malformed_handler("list"),
    "/acao-upper": _malformed_handler("upper"),
    "/xss": _h_xss,
    "/xss-acao": _h_xss_acao,
    "/http10": _h_http10,
}


def redirect_cross_url(first: HostileServer, second: HostileServer) -> str:
    """A ``/redir-cross`` URL on ``first`` that sends the browser to ``second``'s ``/ok``."""
    return first.url("/redir-cross?to=" + quote(second.url("/ok"), safe=""))


# ---------------------------------------------------------------------- TLS


@contextlib.contextmanager
def bad_tls_context(tmp: Path) -> Iterator[ssl.SSLContext]:
    """A server TLS context whose certificate is untrusted *and* names the wrong host.

    The issuing CA is a fresh trustme CA nobody trusts, and the leaf is for
    ``wrong-name.invalid`` while the client connects to 127.0.0.1.
    """
    ca = trustme.CA()
    leaf = ca.issue_cert("wrong-name.invalid")
    cert, key = tmp / "bad-cert.pem", tmp / "bad-key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    try:
        yield ctx
    finally:
        for p in (cert, key):
            with contextlib.suppress(OSError):
                p.unlink()


def wait_until(pred: Callable[[], bool], timeout: float) -> bool:
    """Poll ``pred`` until true or ``timeout`` seconds pass (bounded)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
