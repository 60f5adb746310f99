"""The harness proxy: exact routing on loopback, and never an open relay."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.serve.proxy import ForwardProxy


@contextmanager
def http_server(body: bytes) -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(f"{self.headers.get('Host')} {self.path}")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def raw(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and data.startswith(b"CONNECT"):
                break
        return b"".join(chunks)


def test_routes_impersonated_host_and_passes_configured_target() -> None:
    with http_server(b"page") as (page_port, page_seen), http_server(b"api") as (api_port, _):
        proxy = ForwardProxy(
            {("app.example.com", 80): ("127.0.0.1", page_port)}, {("127.0.0.1", api_port)}
        )
        proxy.start()
        try:
            reply = raw(
                proxy.port,
                b"GET http://app.example.com/p?x=1 HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
            )
            assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"page")
            assert page_seen == ["app.example.com /p?x=1"]
            reply = raw(
                proxy.port,
                f"GET http://127.0.0.1:{api_port}/data HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{api_port}\r\n\r\n".encode(),
            )
            assert reply.endswith(b"api")
        finally:
            proxy.stop()


def test_not_an_open_relay() -> None:
    with (
        http_server(b"allowed") as (ok_port, ok_seen),
        http_server(b"other") as (other_port, other_seen),
    ):
        proxy = ForwardProxy({}, {("127.0.0.1", ok_port)})
        proxy.start()
        try:
            reply = raw(
                proxy.port,
                f"GET http://127.0.0.1:{other_port}/ HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{other_port}\r\n\r\n".encode(),
            )
            assert reply.startswith(b"HTTP/1.1 403")
            reply = raw(proxy.port, f"CONNECT 127.0.0.1:{other_port} HTTP/1.1\r\n\r\n".encode())
            assert reply.startswith(b"HTTP/1.1 403")
            reply = raw(proxy.port, b"CONNECT example.org:443 HTTP/1.1\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 403")
            assert other_seen == []
            reply = raw(proxy.port, f"CONNECT 127.0.0.1:{ok_port} HTTP/1.1\r\n\r\n".encode())
            assert reply.startswith(b"HTTP/1.1 200 Connection Established")
            assert proxy.stats.refused == 3
            assert ok_seen == []  # a tunnel was opened, no request sent through it
        finally:
            proxy.stop()


def test_fallback_serves_unknown_names_locally_and_records_them() -> None:
    with http_server(b"local page") as (page_port, _page_seen):
        proxy = ForwardProxy({}, set(), fallback={80: ("127.0.0.1", page_port)})
        proxy.start()
        try:
            url = proxy.listener("chromium-default")
            port = int(url.rsplit(":", 1)[1])
            reply = raw(port, b"GET http://weird%2A.evil.test/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reply.endswith(b"local page")
            assert proxy.saw("chromium-default", "weird%2a.evil.test:80")
            assert not proxy.saw("firefox-default", "weird%2a.evil.test:80")
            # Fallback only covers the ports it names: anything else is refused.
            reply = raw(port, b"CONNECT elsewhere.test:8443 HTTP/1.1\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 403")
        finally:
            proxy.stop()


def test_listens_on_loopback_only() -> None:
    proxy = ForwardProxy({})
    proxy.start()
    try:
        assert proxy.url.startswith("http://127.0.0.1:")
    finally:
        proxy.stop()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_listens_on_an_ipv6_address() -> None:
    with http_server(b"page") as (page_port, _):
        proxy = ForwardProxy({("app.example.com", 80): ("127.0.0.1", page_port)}, bind="::1")
        proxy.start()
        try:
            assert proxy.url == f"http://[::1]:{proxy.port}"
            request = b"GET http://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n"
            assert raw(proxy.port, request, host="::1").endswith(b"page")
            extra = proxy.listener("engine")
            assert extra.startswith("http://[::1]:")
            port = int(extra.rsplit(":", 1)[1])
            assert raw(port, request, host="::1").endswith(b"page")
        finally:
            proxy.stop()
