"""Relay HTTP/1.1 between a browser and a server byte for byte, recording target exchanges.

The proxy hands a connection here once it knows what the browser talks to: plain
http (absolute-form requests, any host the routing table knows), or a configured
target whose TLS the proxy has just terminated. Heads and framing are parsed only to
know where each message ends and what to record; the browser receives the server's
own bytes. Two edits are made, neither visible to the server's CORS decision:

* the probe marker (:data:`harness.serve.wire.MARKER_PARAM`) is removed from the
  request-target, and an absolute-form target becomes origin-form with the
  proxy-only headers dropped, as any proxy does;
* a redirect's ``Location`` that points at a recorded target gets the same marker,
  so the next hop is filed under the same probe.

A response the relay cannot parse (no status line, a head over the limit, conflicting
lengths) is passed on raw, and the rest of the connection is tunnelled untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from harness.model.results import DEFAULT_PORTS, HttpExchange
from harness.serve import wire

PAGE_PREFIX = "/__corsproof/"
"""Paths of corsproof's own pages; on a host that is also a target they go to the page server."""
MAX_HEAD = 64 * 1024
"""Longest request or response head accepted (browsers allow about as much)."""
MAX_LINES = 200
CHUNK = 65536


@dataclass(frozen=True)
class Upstream:
    """Where one (host, port) really is, and whether its exchanges are recorded."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None
    server_hostname: str | None = None
    record: bool = False
    """True for configured targets: their exchanges go into the wire log."""

    @property
    def key(self) -> tuple[str, int, bool]:
        """Connections to equal keys can be reused for one another."""
        return (self.host, self.port, self.tls is not None)


Router = Callable[[str, int, str], "Upstream | None"]
"""(host, port, path) the browser asked for -> where it goes, or None (refused)."""


class _Unparsable(ValueError):
    """A head that is not HTTP/1.x as the relay understands it."""


@dataclass
class _Head:
    first: str
    """Request line or status line, without the line ending."""
    lines: list[bytes]
    """Header lines exactly as received, line endings included."""
    headers: list[tuple[str, str]]
    raw: bytes
    """The whole head as received."""

    def get(self, name: str) -> str | None:
        low = name.lower()
        values = [v for k, v in self.headers if k.lower() == low]
        return ", ".join(values) if values else None


async def read_head(reader: asyncio.StreamReader, *, allow_eof: bool) -> _Head | None:
    """One head, lenient as browsers are (LF-only endings, folded lines).

    Returns None on a clean EOF before the first byte when ``allow_eof``. Raises
    :class:`_Unparsable` (with the bytes read so far in ``args[0]``) otherwise.
    """
    raw = b""
    lines: list[bytes] = []
    first: bytes | None = None
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not raw and not exc.partial and allow_eof:
                return None
            raise _Unparsable(raw + exc.partial) from None
        except asyncio.LimitOverrunError:
            raise _Unparsable(raw) from None
        raw += line
        if len(raw) > MAX_HEAD or len(lines) > MAX_LINES:
            raise _Unparsable(raw)
        if first is None:
            if line in (b"\r\n", b"\n") and not raw.strip():
                raw = b""  # stray empty lines before a request are allowed
                continue
            first = line
            continue
        if line in (b"\r\n", b"\n"):
            break
        lines.append(line)
    headers: list[tuple[str, str]] = []
    for line in lines:
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {text.strip()}")
            continue
        name, sep, value = text.partition(":")
        if not sep or not name or name != name.strip():
            raise _Unparsable(raw)
        headers.append((name, value.strip()))
    return _Head(first.decode("latin-1").rstrip("\r\n"), lines, headers, raw)


def _body_length(head: _Head) -> int | str | None:
    """``"chunked"``, a byte count, ``"close"`` (read to EOF) or None (no body)."""
    te = head.get("transfer-encoding")
    if te is not None:
        codings = [c.strip().lower() for c in te.split(",") if c.strip()]
        return "chunked" if codings and codings[-1] == "chunked" else "close"
    cl = head.get("content-length")
    if cl is None:
        return None
    values = {v.strip() for v in cl.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise _Unparsable(head.raw)
    return int(next(iter(values)))


async def _copy_fixed(
    reader: asyncio.StreamReader,
    send: Callable[[bytes], Awaitable[None]],
    n: int,
    meter: wire.BodyMeter | None,
) -> None:
    left = n
    while left > 0:
        data = await reader.read(min(CHUNK, left))
        if not data:
            raise asyncio.IncompleteReadError(b"", left)
        left -= len(data)
        if meter is not None:
            meter.feed(data)
        await send(data)


async def _copy_chunked(
    reader: asyncio.StreamReader,
    send: Callable[[bytes], Awaitable[None]],
    meter: wire.BodyMeter | None,
) -> None:
    while True:
        line = await reader.readuntil(b"\n")
        await send(line)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _Unparsable(line) from None
        if size == 0:
            while True:  # trailers, then the empty line
                trailer = await reader.readuntil(b"\n")
                await send(trailer)
                if trailer in (b"\r\n", b"\n"):
                    return
        await _copy_fixed(reader, send, size, meter)
        await send(await reader.readuntil(b"\n"))


async def _copy_until_close(
    reader: asyncio.StreamReader,
    send: Callable[[bytes], Awaitable[None]],
    meter: wire.BodyMeter | None,
) -> None:
    while True:
        data = await reader.read(CHUNK)
        if not data:
            return
        if meter is not None:
            meter.feed(data)
        await send(data)


class _Gone(ConnectionError):
    """Writing to one side failed: that peer closed or reset the connection."""


class _Side:
    """One end of the relay: a stream pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise _Gone(str(exc)) from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    def reset(self) -> None:
        """Close with a TCP reset, so the peer sees what the far side did to us."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(Exception):
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


async def connect(up: Upstream, timeout: float) -> _Side:
    """Open a connection to ``up``; raises ``OSError`` or ``ssl.SSLError`` or ``TimeoutError``."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            up.host,
            up.port,
            ssl=up.tls,
            server_hostname=up.server_hostname if up.tls is not None else None,
            limit=MAX_HEAD,
        ),
        timeout,
    )
    return _Side(reader, writer)


def origin_of(scheme: str, host: str, port: int) -> str:
    """``scheme://host[:port]`` with the default port left out."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class _Pending:
    """One exchange being relayed; recorded exactly once, however it ends."""

    def __init__(
        self, relay: Relay, up: Upstream, marker: str | None, request: _Head, url: str
    ) -> None:
        self.relay = relay
        self.up = up
        self.marker = marker
        self.request = request
        self.url = url
        self.done = not up.record
        if not self.done:
            relay.log.begin(marker)

    def record(
        self,
        *,
        response: _Head | None = None,
        status: int | None = None,
        meter: wire.BodyMeter | None = None,
        error: str | None = None,
    ) -> None:
        if self.done:
            return
        self.done = True
        length, digest, truncated = meter.result() if meter is not None else (None, None, False)
        request = self.request
        cookie = request.get("cookie")
        exchange = HttpExchange(
            method=request.first.split(" ", 1)[0],
            url=self.url,
            request_headers=wire.request_headers(request.headers),
            status=status,
            response_headers=wire.response_headers(response.headers) if response else (),
            error=error,
            source="wire",
            cookies=wire.cookie_names(cookie) if cookie else (),
            authorization=request.get("authorization") is not None,
            protocol=request.first.rsplit(" ", 1)[-1][:16],
            body_length=length,
            body_hash=digest,
            body_truncated=truncated,
        )
        self.relay.log.record(self.marker, self.relay.label, exchange)


@dataclass
class Relay:
    """Relays one browser connection, request after request."""

    router: Router
    log: wire.WireLog
    label: str
    scheme: str
    timeout: float
    authority: tuple[str, int] | None = None
    """The CONNECT host and port (TLS); None for plain-http proxy requests."""
    upstream: _Side | None = None
    upstream_key: tuple[str, int, bool] | None = None
    _connect_error: str = ""

    def adopt(self, server: _Side, up: Upstream) -> None:
        """Use an already open connection to ``up`` for the first request."""
        self.upstream, self.upstream_key = server, up.key

    async def run(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        first: _Head | None = None,
    ) -> None:
        """Serve until either side closes; never raises for what the peers do."""
        client = _Side(reader, writer)
        try:
            head = first
            while True:
                if head is None:
                    try:
                        head = await asyncio.wait_for(
                            read_head(client.reader, allow_eof=True), self.timeout * 6
                        )
                    except (_Unparsable, TimeoutError):
                        return
                    if head is None:
                        return
                if not await self._one(client, head):
                    return
                head = None
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return
        finally:
            if self.upstream is not None:
                self.upstream.close()

    def _where(self, target: str) -> tuple[str, int, str] | None:
        if self.authority is not None:
            host, port = self.authority
            return host, port, target if target.startswith("/") else "/" + target
        if not target.lower().startswith("http://"):
            return None
        parts = urlsplit(target)
        if not parts.hostname:
            return None
        try:
            port = parts.port or 80
        except ValueError:
            return None
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        path = target[len("http://") + len(parts.netloc) :] or "/"
        return host, port, path if path.startswith("/") else "/" + path

    async def _one(self, client: _Side, head: _Head) -> bool:
        """Relay one request and its response; False when the connection must end."""
        parts = head.first.split(" ")
        where = self._where(parts[1]) if len(parts) == 3 else None
        if where is None:
            await client.send(_reply(400, "corsproof proxy: malformed request"))
            return False
        method, version = parts[0], parts[2]
        host, port, path = where
        up = self.router(host, port, path)
        if up is None:
            await client.send(_reply(403, "corsproof proxy: not a configured target"))
            return False
        clean, marker = wire.unmark(path) if up.record else (path, None)
        bare = host.strip("[]") if host.startswith("[") else host
        pending = _Pending(self, up, marker, head, origin_of(self.scheme, bare, port) + clean)
        try:
            return await self._exchange(client, head, up, pending, method, version, clean)
        finally:
            pending.record(error="the connection closed before the exchange completed")

    async def _exchange(
        self,
        client: _Side,
        head: _Head,
        up: Upstream,
        pending: _Pending,
        method: str,
        version: str,
        clean: str,
    ) -> bool:
        try:
            body = await _read_body(client.reader, _body_length(head))
        except _Unparsable:
            await client.send(_reply(400, "corsproof proxy: bad request framing"))
            return False
        drop = ("proxy-connection", "proxy-authorization") if self.authority is None else ()
        kept = [ln for ln in head.lines if _name_of(ln) not in drop]
        request = (
            f"{method} {clean} {version}\r\n".encode("latin-1") + b"".join(kept) + b"\r\n" + body
        )
        for attempt in (1, 2):
            fresh = await self._upstream(up)
            if fresh is None:
                reason = self._connect_error
                pending.record(error=f"connect: {reason}")
                await client.send(
                    _reply(502, f"corsproof proxy: cannot reach the target: {reason}")
                )
                return False
            server = self.upstream
            assert server is not None
            first: _Head | _Reset | None
            try:
                await server.send(request)
                first = await asyncio.wait_for(
                    read_head(server.reader, allow_eof=True), self.timeout * 3
                )
            except TimeoutError:
                pending.record(error="timeout: no answer")
                return False
            except _Unparsable as exc:
                return await self._raw(client, server, pending, exc.args[0] if exc.args else b"")
            except (ConnectionError, OSError):
                first = _RESET
            if first is None or isinstance(first, _Reset):
                if not fresh and attempt == 1:
                    # A kept-alive connection the target had closed meanwhile: as a
                    # browser does, send the request again on a new one.
                    self._drop_upstream()
                    continue
                if isinstance(first, _Reset):
                    pending.record(error="the target reset the connection")
                    client.reset()
                else:
                    pending.record(error="the server closed the connection without answering")
                return False
            return await self._response(client, server, up, pending, head, method, first)
        return False

    async def _upstream(self, up: Upstream) -> bool | None:
        """Make ``self.upstream`` a connection to ``up``: True if new, False if reused,
        None when it cannot be opened (``self._connect_error`` says why)."""
        if self.upstream is not None and (
            self.upstream_key != up.key or self.upstream.reader.at_eof()
        ):
            self._drop_upstream()
        if self.upstream is not None:
            return False
        try:
            self.upstream = await connect(up, min(10.0, self.timeout))
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self._connect_error = getattr(exc, "strerror", None) or type(exc).__name__
            return None
        self.upstream_key = up.key
        return True

    def _drop_upstream(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        self.upstream, self.upstream_key = None, None

    async def _response(
        self,
        client: _Side,
        server: _Side,
        up: Upstream,
        pending: _Pending,
        request: _Head,
        method: str,
        head: _Head,
    ) -> bool:
        while True:
            status = _status(head)
            if status is None:
                return await self._raw(client, server, pending, head.raw)
            if 100 <= status < 200 and status != 101:
                await client.send(head.raw)
                try:
                    nxt = await asyncio.wait_for(
                        read_head(server.reader, allow_eof=True), self.timeout * 3
                    )
                except (TimeoutError, ConnectionError, OSError, _Unparsable):
                    nxt = None
                if nxt is None:
                    pending.record(error="the server sent only an interim (1xx) answer")
                    return False
                head = nxt
                continue
            break
        try:
            framing = _response_framing(method, status, head)
        except _Unparsable:
            return await self._raw(client, server, pending, head.raw)
        out = head.raw
        if pending.marker is not None and 300 <= status < 400:
            out = self._mark_location(head, pending)
        await client.send(out)
        meter = wire.BodyMeter(head.get("content-encoding")) if up.record else None
        error = None
        try:
            if framing == "chunked":
                await _copy_chunked(server.reader, client.send, meter)
            elif framing == "close":
                await _copy_until_close(server.reader, client.send, meter)
            elif isinstance(framing, int):
                await _copy_fixed(server.reader, client.send, framing, meter)
        except _Gone:
            error = "the browser closed the connection during the body"
        except asyncio.IncompleteReadError:
            # A close mid-body reaches the browser as the same truncation.
            error = "the server closed the connection during the body"
        except (ConnectionError, OSError):
            error = "the target reset the connection during the body"
            client.reset()
        except (_Unparsable, asyncio.LimitOverrunError):
            error = "malformed chunked body"
        pending.record(response=head, status=status, meter=meter, error=error)
        if error is not None or framing == "close":
            return False
        connection = (head.get("connection") or "").lower()
        if "close" in connection or "close" in (request.get("connection") or "").lower():
            return False
        return not (head.first.startswith("HTTP/1.0") and "keep-alive" not in connection)

    async def _raw(self, client: _Side, server: _Side, pending: _Pending, already: bytes) -> bool:
        """Pass an answer the relay cannot parse on untouched, then tunnel until close."""
        pending.record(error="the answer is not HTTP/1.x the relay can parse; passed on raw")
        with contextlib.suppress(ConnectionError, OSError):
            if already:
                await client.send(already)
            up_task = asyncio.ensure_future(_copy_until_close(client.reader, server.send, None))
            try:
                await _copy_until_close(server.reader, client.send, None)
            finally:
                up_task.cancel()
                with contextlib.suppress(BaseException):
                    await up_task
        return False

    def _mark_location(self, head: _Head, pending: _Pending) -> bytes:
        """The head with a same-target redirect's Location carrying the probe's marker."""
        location = head.get("location")
        if not location or pending.marker is None:
            return head.raw
        resolved = urljoin(pending.url, location)
        parts = urlsplit(resolved)
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            return head.raw
        host = parts.hostname or ""
        nxt = self.router(f"[{host}]" if ":" in host else host, port, parts.path or "/")
        if nxt is None or not nxt.record:
            return head.raw
        marked = wire.mark(resolved, pending.marker)
        lines = [
            f"Location: {marked}\r\n".encode("latin-1", "replace")
            if _name_of(line) == "location"
            else line
            for line in head.lines
        ]
        return (head.first + "\r\n").encode("latin-1") + b"".join(lines) + b"\r\n"


class _Reset:
    """Stands for "the target reset the connection" before answering."""


_RESET = _Reset()

MAX_REQUEST_BODY = 8 * 1024 * 1024
"""Request bodies are read whole (to be sent again on a fresh connection when needed);
corsproof's own probes send a few bytes."""


async def _read_body(reader: asyncio.StreamReader, framing: int | str | None) -> bytes:
    """A request body as received (chunked framing kept), at most MAX_REQUEST_BODY."""
    parts: list[bytes] = []

    async def keep(data: bytes) -> None:
        parts.append(data)
        if sum(len(p) for p in parts) > MAX_REQUEST_BODY:
            raise _Unparsable(b"")

    if framing == "chunked":
        await _copy_chunked(reader, keep, None)
    elif isinstance(framing, int):
        if framing > MAX_REQUEST_BODY:
            raise _Unparsable(b"")
        await _copy_fixed(reader, keep, framing, None)
    return b"".join(parts)


def _name_of(line: bytes) -> str:
    return line.split(b":", 1)[0].strip().lower().decode("latin-1")


def _response_framing(method: str, status: int, head: _Head) -> int | str | None:
    """How the response body is delimited (RFC 9112, section 6.3)."""
    if method == "HEAD" or status in (204, 304):
        return None
    if status == 101:
        return "close"
    framing = _body_length(head)
    return "close" if framing is None else framing


def _status(head: _Head) -> int | None:
    parts = head.first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return None
    code = int(parts[1])
    return code if 100 <= code <= 999 else None


def _reply(status: int, message: str) -> bytes:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    body = message.encode("utf-8", "replace")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
        + body
    )
