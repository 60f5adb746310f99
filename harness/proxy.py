"""A small forward proxy that lets pages have exact origins while everything runs on loopback.

Browsers send every request through it. Requests for impersonated origins (the
attacker and legitimate pages) go to the local page server; requests for the
configured targets pass through untouched, CONNECT included; anything else is
refused, so the proxy is never an open relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.errors import LaunchError
from harness.models import base_url

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
    ) -> None:
        self.fallback = dict(fallback or {})
        self.routes = {(h.lower(), p): dest for (h, p), dest in routes.items()}
        self.passthrough = {(h.lower(), p) for h, p in passthrough}
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
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        request_line, _, rest = head.partition(b"\r\n")
        parts = request_line.decode("latin-1").split(" ")
        if len(parts) != 3:
            await _reply(writer, 400, "malformed request line")
            return
        method, target, version = parts
        seen = self.stats.seen_hosts.setdefault(label, set())
        if len(seen) < 10000:
            hostpart = target.split("://", 1)[-1].split("/", 1)[0].lower()
            seen.add(hostpart if ":" in hostpart.rsplit("]", 1)[-1] else f"{hostpart}:80")
        if method.upper() == "CONNECT":
            host, port = _split_hostport(target, 443)
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
        hostport, _, path = target[len("http://") :].partition("/")
        host, port = _split_hostport(hostport, 80)
        dest = self.resolve(host, port)
        if dest is None:
            self._refuse(host, port)
            await _reply(writer, 403, "corsproof proxy: not a configured target")
            return
        upstream = await self._open(dest, writer)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        # One request per proxy connection keeps framing trivial: the next request
        # on a keep-alive connection could be for another host.
        headers = [
            line
            for line in rest.split(b"\r\n")
            if line
            and not line.lower().startswith((b"proxy-connection:", b"connection:", b"keep-alive:"))
            and not line.lower().startswith(b"proxy-authorization:")
        ]
        new_head = f"{method} /{path} {version}\r\n".encode("latin-1")
        new_head += b"\r\n".join([*headers, b"Connection: close"]) + b"\r\n\r\n"
        up_writer.write(new_head)
        await up_writer.drain()
        self.stats.forwarded += 1
        await _pipe_both(reader, writer, up_reader, up_writer)

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
