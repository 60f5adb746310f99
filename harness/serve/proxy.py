"""A small forward proxy that lets pages have exact origins while everything runs on loopback.

Browsers send every request through it. Requests for impersonated origins (the
attacker and legitimate pages) go to the local page server. Requests for the
configured targets are relayed and witnessed (:mod:`harness.relay`,
:mod:`harness.wire`): for https targets the proxy terminates the browser's TLS with
the run's CA, which the probing browsers accept, and opens its own connection to the
target. Anything else is refused, so the proxy is never an open relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.model.errors import LaunchError
from harness.model.results import base_url
from harness.serve.relay import PAGE_PREFIX, Relay, Upstream, connect
from harness.serve.relay import read_head as _read_head
from harness.serve.wire import WireLog

HostPort = tuple[str, int]

MAX_HEAD = 64 * 1024
HEAD_TIMEOUT = 15.0
CONNECT_TIMEOUT = 10.0


@dataclass
class ProxyStats:
    """Counters the tests and the progress line read; no request content is kept."""

    tunnels: int = 0
    forwarded: int = 0
    refused: int = 0
    refused_hosts: list[str] = field(default_factory=list)
    seen_hosts: dict[str, set[str]] = field(default_factory=dict)
    """Per listener label, the ``host:port`` of every request made through it (bounded)."""


class ForwardProxy:
    """An HTTP/1.1 forward proxy on loopback with a fixed routing table.

    ``routes`` maps a (host, port) the browser asks for to the (host, port) that
    really serves it; ``passthrough`` lists the targets that may be reached as
    they are; ``fallback`` maps a port to a local server for any other name.
    All are fixed before the run starts, and none of them reaches the network
    except ``passthrough``.
    """

    def __init__(
        self,
        routes: Mapping[HostPort, HostPort],
        passthrough: set[HostPort] | frozenset[HostPort] = frozenset(),
        *,
        bind: str = "127.0.0.1",
        fallback: Mapping[int, HostPort] | None = None,
        intercept: Mapping[HostPort, Upstream] | None = None,
        pages: Mapping[HostPort, Upstream] | None = None,
        server_ssl: ssl.SSLContext | None = None,
        wire: WireLog | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.fallback = dict(fallback or {})
        self.routes = {(h.lower(), p): dest for (h, p), dest in routes.items()}
        self.passthrough = {(h.lower(), p) for h, p in passthrough}
        self.intercept = {(h.lower(), p): up for (h, p), up in (intercept or {}).items()}
        """Configured targets whose exchanges are relayed and recorded."""
        self.pages = {(h.lower(), p): up for (h, p), up in (pages or {}).items()}
        """Targets that share a host with an impersonated origin: where its page paths go."""
        self.server_ssl = server_ssl
        self.wire = wire if wire is not None else WireLog()
        self.timeout = timeout
        self.bind = bind
        self.port = 0
        self.stats = ProxyStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._extra: list[asyncio.Server] = []

    @property
    def url(self) -> str:
        """``http://bind:port``, for the browsers' proxy settings."""
        return base_url("http", self.bind, self.port)

    def resolve(self, host: str, port: int) -> HostPort | None:
        """Where a request for host:port goes, or None when it is refused."""
        key = (host.lower().strip("[]") if host.startswith("[") else host.lower(), port)
        if key in self.routes:
            return self.routes[key]
        if (host.lower(), port) in self.routes:
            return self.routes[(host.lower(), port)]
        if (host.lower(), port) in self.passthrough:
            return (host.strip("[]"), port)
        # Unknown names go to our own page server, never to the network: that is
        # how a host an engine rewrote (e.g. percent-escaped) still shows its origin.
        return self.fallback.get(port)

    def upstream_for(self, host: str, port: int, path: str) -> Upstream | None:
        """Where one request goes (relayed connections), or None when it is refused."""
        key = (host.lower(), port)
        up = self.intercept.get(key)
        if up is not None:
            if path.startswith(PAGE_PREFIX) and key in self.pages:
                return self.pages[key]
            return up
        dest = self.resolve(host, port)
        if dest is None:
            self._refuse(host, port)
            return None
        return Upstream(dest[0], dest[1])

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.bind, 0))
        except OSError as exc:
            sock.close()
            raise LaunchError(f"proxy: cannot listen on {self.bind}: {exc.strerror}") from None
        return sock

    def listener(self, label: str) -> str:
        """A further listening port whose traffic is recorded under ``label``.

        Each browser session gets its own, so "did this engine even try to reach
        that host?" has an exact answer while engines run side by side.
        """
        loop = self._loop
        if loop is None:
            raise LaunchError("proxy is not running")
        sock = self._bind()
        handler = functools.partial(self._handle, label=label)

        async def open_server() -> asyncio.Server:
            return await asyncio.start_server(handler, sock=sock, limit=MAX_HEAD)

        server = asyncio.run_coroutine_threadsafe(open_server(), loop).result(10)
        self._extra.append(server)
        return base_url("http", self.bind, sock.getsockname()[1])

    def saw(self, label: str, hostport: str) -> bool:
        """Whether a request for ``hostport`` came through the listener ``label``."""
        return hostport.lower() in self.stats.seen_hosts.get(label, set())

    def start(self) -> None:
        """Start serving in a background thread; returns once listening."""
        sock = self._bind()
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, sock=sock, limit=MAX_HEAD)
                )
            except BaseException as exc:  # surfaced to start()'s caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="corsproof-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure or self._server is None:
            raise LaunchError(f"proxy failed to start: {failure[0] if failure else 'timeout'}")

    def stop(self) -> None:
        """Stop the proxy and close every open tunnel; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._loop = None
        self._thread = None

    async def _shutdown(self) -> None:
        for server in [self._server, *self._extra]:
            if server is not None:
                server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, label: str = ""
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer, label)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            # Shutdown cancels open tunnels; that is the end of the connection, not an error.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, label: str
    ) -> None:
        try:
            head = await asyncio.wait_for(_read_head(reader, allow_eof=True), HEAD_TIMEOUT)
        except ValueError:  # unparsable: not a request this proxy serves
            await _reply(writer, 400, "malformed request")
            return
        if head is None:
            return
        parts = head.first.split(" ")
        if len(parts) != 3:
            await _reply(writer, 400, "malformed request line")
            return
        method, target, _version = parts
        seen = self.stats.seen_hosts.setdefault(label, set())
        if len(seen) < 10000:
            hostpart = target.split("://", 1)[-1].split("/", 1)[0].lower()
            seen.add(hostpart if ":" in hostpart.rsplit("]", 1)[-1] else f"{hostpart}:80")
        relay = Relay(self.upstream_for, self.wire, label, "http", self.timeout)
        if method.upper() == "CONNECT":
            host, port = _split_hostport(target, 443)
            intercepted = self.intercept.get((host.lower(), port))
            if intercepted is not None and self.server_ssl is not None:
                await self._intercept(reader, writer, host, port, intercepted, label)
                return
            dest = self.resolve(host, port)
            if dest is None:
                self._refuse(host, port)
                await _reply(writer, 403, "corsproof proxy: not a configured target")
                return
            upstream = await self._open(dest, writer)
            if upstream is None:
                return
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            self.stats.tunnels += 1
            await _pipe_both(reader, writer, *upstream)
            return
        if not target.lower().startswith("http://"):
            await _reply(writer, 400, "corsproof proxy: absolute http:// URI required")
            return
        self.stats.forwarded += 1
        await relay.run(reader, writer, head)

    async def _intercept(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        port: int,
        upstream: Upstream,
        label: str,
    ) -> None:
        """Terminate the browser's TLS for a configured target and relay what it sends.

        The target is connected first, so a target that refuses the connection or
        fails its TLS check gives the browser the same failed tunnel it would get
        without the witness.
        """
        assert self.server_ssl is not None
        try:
            server = await connect(upstream, CONNECT_TIMEOUT)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None)
            await _reply(
                writer,
                502,
                f"corsproof proxy: cannot reach {host}:{port}: {reason or type(exc).__name__}",
            )
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        self.stats.tunnels += 1
        try:
            await asyncio.wait_for(writer.start_tls(self.server_ssl), HEAD_TIMEOUT)
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError):
            server.close()
            return
        relay = Relay(
            self.upstream_for, self.wire, label, "https", self.timeout, authority=(host, port)
        )
        relay.adopt(server, upstream)
        await relay.run(reader, writer)

    def _refuse(self, host: str, port: int) -> None:
        self.stats.refused += 1
        if len(self.stats.refused_hosts) < 100:
            self.stats.refused_hosts.append(f"{host}:{port}")

    async def _open(
        self, dest: HostPort, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await asyncio.wait_for(asyncio.open_connection(*dest), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            await _reply(
                writer, 502, f"corsproof proxy: cannot reach {dest[0]}:{dest[1]}: {reason}"
            )
            return None


def _split_hostport(text: str, default: int) -> HostPort:
    if text.startswith("["):
        end = text.find("]")
        host, tail = text[: end + 1], text[end + 1 :]
        return host, int(tail[1:]) if tail.startswith(":") and tail[1:].isdigit() else default
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return text, default


async def _reply(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    body = message.encode("utf-8", "replace")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def _pipe_both(
    c_reader: asyncio.StreamReader,
    c_writer: asyncio.StreamWriter,
    u_reader: asyncio.StreamReader,
    u_writer: asyncio.StreamWriter,
) -> None:
    # The connection is over when the upstream side is done; a client that only
    # half-closes must not keep a tunnel to a target open.
    up = asyncio.ensure_future(_pipe(c_reader, u_writer))
    try:
        await _pipe(u_reader, c_writer)
    finally:
        up.cancel()
        with contextlib.suppress(BaseException):
            await up
        u_writer.close()
