"""A target that counts: answers every request at once, allows every origin, logs arrivals.

Run as its own process (``python counting_server.py CERT KEY LOG``), never inside the
harness under test. Each request is logged with the time its first bytes reached
this host: the kernel's receive timestamp of the packet (``SO_TIMESTAMPNS``, on
Linux), not the time this process got round to reading it. On a busy machine a
server can be kept off the CPU for a few hundred milliseconds, and then reads a
queue of requests at once; a timestamp taken at read time would show a burst the
client never sent. Elsewhere, or if the kernel gives no timestamp, the read time
is used.

The log is JSON lines: first ``{"port": N}``, then one
``{"at": seconds, "method": ..., "origin": ..., "ua": ...}`` per request (``at`` is
wall-clock time, the clock the kernel stamps packets with). Every preflight is
allowed and ``Access-Control-Max-Age: 0`` keeps browsers from caching it, so a
preflighted request always costs an OPTIONS and the actual request. Standard
library only; loopback only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import sys
import threading
import time
from typing import IO

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux: stamp each received packet with CLOCK_REALTIME in nanoseconds."""
MAX_HEAD = 64 * 1024


class Conn:
    """One TLS connection, decrypted through memory BIOs so every read keeps its timestamp."""

    def __init__(
        self, sock: socket.socket, tls: ssl.SSLContext, log: IO[str], lock: threading.Lock
    ) -> None:
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = tls.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.log = log
        self.lock = lock
        self.last_at = time.time()
        # Without kernel timestamps (not Linux) the read time stands in.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def _recv(self) -> tuple[bytes, float]:
        data, ancillary, _flags, _addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        at = time.time()
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                sec, nsec = struct.unpack("qq", raw[:16])
                at = sec + nsec / 1e9
        return data, at

    def _flush(self) -> None:
        pending = self.outgoing.read()
        if pending:
            self.sock.sendall(pending)

    def _fill(self) -> float | None:
        """Feed one network read to TLS; its arrival time, or None at end of stream."""
        self._flush()
        data, at = self._recv()
        if not data:
            return None
        self.incoming.write(data)
        self.last_at = at
        return at

    def serve(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if self._fill() is None:
                    return
        self._flush()
        buf = b""
        at = self.last_at
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = self.tls.read(65536)
                except ssl.SSLWantReadError:
                    if self._fill() is None:
                        return
                    continue
                except ssl.SSLZeroReturnError:
                    return
                if not chunk:
                    return
                if not buf:
                    at = self.last_at  # the read that brought the request's first bytes
                buf += chunk
                if len(buf) > MAX_HEAD:
                    return
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ")[0]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            while len(buf) < length:
                try:
                    buf += self.tls.read(65536)
                except ssl.SSLWantReadError:
                    if self._fill() is None:
                        return
            buf = buf[length:]
            self._answer(at, method, headers)

    def _answer(self, at: float, method: str, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        entry = {"at": at, "method": method, "origin": origin, "ua": headers.get("user-agent", "")}
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()
        out = ["Content-Type: application/json", "Cache-Control: no-store"]
        if origin:
            out += [
                f"Access-Control-Allow-Origin: {origin}",
                "Access-Control-Allow-Credentials: true",
                "Vary: Origin",
            ]
        status, body = "200 OK", b'{"ok":true}'
        if method == "OPTIONS":
            status, body = "204 No Content", b""
            out += [
                "Access-Control-Allow-Methods: GET, POST",
                "Access-Control-Allow-Headers: authorization, content-type",
                "Access-Control-Max-Age: 0",
            ]
        out.append(f"Content-Length: {len(body)}")
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in out) + "\r\n"
        self.tls.write(head.encode("latin-1") + body)
        self._flush()


def serve(cert: str, key: str, log: IO[str]) -> None:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    lock = threading.Lock()
    listener = socket.create_server(("127.0.0.1", 0))
    log.write(json.dumps({"port": listener.getsockname()[1]}) + "\n")
    log.flush()

    def run(sock: socket.socket) -> None:
        try:
            Conn(sock, tls, log, lock).serve()
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            sock.close()

    while True:
        sock, _ = listener.accept()
        threading.Thread(target=run, args=(sock,), daemon=True).start()


def main(argv: list[str]) -> None:
    cert, key, path = argv
    with open(path, "w", encoding="utf-8") as log:
        serve(cert, key, log)


if __name__ == "__main__":
    main(sys.argv[1:])
